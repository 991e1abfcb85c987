"""The KIM pages and the API parse a KIM's input with one parser (kims.forms.kim_input).

The same payloads go through the registration/edit page (form fields), the API as JSON and the
API as multipart form fields; each must store the same row, or refuse with the same field errors,
or hold back the same look-alikes. Before the shared parser the page and the API defaulted
differently: the duplicate-name guard was the page's only, the page judged dates with WTForms'
own messages, an empty desa code on an edit was "unchanged" on the page only, a field left out of
an edit was cleared on the page and kept by the API, and only the page took a logo, an SK scan
and "save and submit".
"""
import io
from datetime import timedelta

import pytest
from flask import template_rendered
from PIL import Image
from sqlalchemy import func, select

from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import Bidang, Kim
from tests.conftest import DESA, DESA_POINT, bearer, counting, csrf_token, login

pytestmark = pytest.mark.usefixtures("steady_demo_flag")


# Past dates derived from the code's clock (the rules refuse dates in the future).
FOUNDED_ON = (clock.today() - timedelta(days=7 * 365)).isoformat()
SK_DATE = (clock.today() - timedelta(days=320)).isoformat()

TRANSPORTS = ("page", "json", "multipart")
LAT, LON = "-2.749192", "118.967345"
BASE = {"name": "KIM Binanga Maju", "bidang": ["literasi", "media"], "desa_code": DESA, "lat": LAT, "lon": LON}
FUTURE = (clock.today() + timedelta(days=40)).isoformat()
MAKASSAR = {"desa_code": "73.71.01.1001", "lat": "-5.162181", "lon": "119.404252"}

CREATE = {
    # case: (changes to BASE, None for a stored row or the field names refused)
    "valid, only the required fields": ({}, None),
    "valid, every field": ({
        "address": "Jl. Yos Sudarso 12", "founded_on": FOUNDED_ON, "sk_number": "140/12/2024",
        "sk_issuer": "Lurah Binanga", "sk_date": SK_DATE, "description": "Kelompok informasi warga.",
        "whatsapp": "0812 3456 7890", "email": "KIM.Binanga@Example.id",
        "social_instagram": "instagram.com/kimbinanga", "social_website": "https://kim-binanga.id"}, None),
    "decimal commas": ({"lat": "-2,749192", "lon": "118,967345"}, None),
    "whitespace around values": ({"name": "  KIM Binanga Maju  ", "desa_code": f" {DESA} ",
                                  "address": "   ", "description": " \n "}, None),
    "empty optional fields": ({"address": "", "founded_on": "", "sk_number": "", "sk_issuer": "", "sk_date": "",
                               "description": "", "whatsapp": "", "email": "", "social_instagram": "",
                               "social_x": ""}, None),
    "repeated and blank bidang": ({"bidang": ["literasi", "media", "literasi", "", "  "]}, None),
    "one bidang as a single value": ({"bidang": "kesehatan"}, None),
    "status and number are not the user's": ({"status": "verified", "number": "KIM-76.02-9999"}, None),
    "save and submit": ({"action": "submit"}, None),
    "save": ({"action": "save"}, None),
    "missing name": ({"name": None}, {"name"}),
    "blank name": ({"name": "   "}, {"name"}),
    "short name": ({"name": "KI"}, {"name"}),
    "no bidang": ({"bidang": None}, {"bidang"}),
    "blank bidang": ({"bidang": ["", " "]}, {"bidang"}),
    "unknown bidang": ({"bidang": ["literasi", "terbang-layang"]}, {"bidang"}),
    "too many bidang": ({"bidang": [f"bidang-{n}" for n in range(7)]}, {"bidang"}),
    "empty desa code": ({"desa_code": ""}, {"desa_code"}),
    "blank desa code": ({"desa_code": "   "}, {"desa_code"}),
    "not a desa code": ({"desa_code": "76.02"}, {"desa_code"}),
    "no such desa": ({"desa_code": "76.02.01.1999"}, {"desa_code"}),
    "empty coordinates": ({"lat": "", "lon": ""}, {"lat", "lon"}),
    "text for a coordinate": ({"lat": "utara"}, {"lat"}),
    "point outside the desa's kabupaten": ({"lat": MAKASSAR["lat"], "lon": MAKASSAR["lon"]}, {"lat"}),
    "point outside Indonesia": ({"lat": "48.85", "lon": "2.35"}, {"lat"}),
    "desa in another kabupaten than the point": ({"desa_code": MAKASSAR["desa_code"]}, {"lat"}),
    "not a date": ({"founded_on": "17 Agustus 2019"}, {"founded_on"}),
    "a date in the future": ({"sk_date": FUTURE}, {"sk_date"}),
    "bad email": ({"email": "kim@binanga"}, {"email"}),
    "bad whatsapp": ({"whatsapp": "halo"}, {"whatsapp"}),
    "another site as instagram": ({"social_instagram": "https://example.id/kim"}, {"socials.instagram"}),
    "several problems at once": ({"name": "", "founded_on": "kemarin", "email": "x"}, {"name", "founded_on", "email"}),
    "unknown action": ({"action": "terbang"}, {"action"}),
    "not a yes or no": ({"confirm_not_duplicate": "mungkin"}, {"confirm_not_duplicate"}),
}


def payload(changes: dict) -> dict:
    return {k: v for k, v in {**BASE, **changes}.items() if v is not None}


def png(colour=(30, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(out, format="PNG")
    return out.getvalue()


def row(kim: Kim) -> dict:
    db.session.expire(kim)
    point = db.session.scalar(select(func.ST_AsText(Kim.point)).where(Kim.id == kim.id))
    return {"name": kim.name, "bidang": list(kim.bidang), "desa_code": kim.desa_code, "point": point,
            "address": kim.address, "founded_on": kim.founded_on, "sk_number": kim.sk_number,
            "sk_issuer": kim.sk_issuer, "sk_date": kim.sk_date, "description": kim.description,
            "whatsapp": kim.whatsapp, "email": kim.email, "socials": dict(kim.socials or {}),
            "status": kim.status, "numbered": kim.number is not None, "logo": kim.logo_key is not None,
            "sk_file": kim.sk_file_key is not None, "ketua": [m.user.name for m in kim.memberships]}


class Sender:
    """Posts a payload through one transport. Answers ("ok", KIM id), ("error", {field: message}) or
    ("duplicate", {field: message}, ids of the look-alikes shown, whether others are being registered)."""

    def __init__(self, app, user, transport):
        self.transport = transport
        self.client = app.test_client()
        if transport == "page":
            login(self.client, user)
            self.headers = {}
        else:
            self.headers = bearer(user)

    def _page(self, url, data, files):
        captured = {}

        def remember(sender, template, context, **extra):
            captured.update(context)
            if context.get("duplicates"):  # read now: the request's session ends with it
                alikes = context["duplicates"]
                captured["duplicates"] = (sorted(k.id for k in alikes.visible), alikes.others_being_registered)

        body = {**data, **files, "csrf_token": csrf_token(self.client)}
        with template_rendered.connected_to(remember):
            response = self.client.post(url, data=body, content_type="multipart/form-data")
        if response.status_code == 302:
            return "ok", None
        assert response.status_code == 422, response.get_data(as_text=True)[:500]
        if captured.get("duplicates"):
            return "duplicate", captured["errors"], *captured["duplicates"]
        return "error", captured["errors"]

    def _api(self, method, url, data, files):
        if self.transport == "json":
            assert not files, "JSON carries no files"
            response = self.client.open(url, method=method, json=data, headers=self.headers)
        else:
            response = self.client.open(url, method=method, data={**data, **files}, headers=self.headers,
                                        content_type="multipart/form-data")
        body = response.get_json()
        if response.status_code in (200, 201):
            return "ok", body["id"]
        error = body["error"]
        if "possible_duplicates" in error:
            assert response.status_code == 409
            return "duplicate", error["fields"], sorted(d["id"] for d in error["possible_duplicates"]), \
                error["similar_name_being_registered"]
        assert response.status_code in (403, 422), body
        return "error", error["fields"]

    def create(self, data, files=None):
        files = {name: (io.BytesIO(content), f"{name}.png") for name, content in (files or {}).items()}
        if self.transport == "page":
            before = set(db.session.scalars(select(Kim.id)))
            outcome = self._page("/kim/daftar", data, files)
            if outcome[0] == "ok":
                (new,) = set(db.session.scalars(select(Kim.id))) - before
                return "ok", new
            return outcome
        return self._api("POST", "/api/v1/kims", data, files)

    def edit(self, kim, data, files=None):
        files = {name: (io.BytesIO(content), f"{name}.png") for name, content in (files or {}).items()}
        if self.transport == "page":
            outcome = self._page(f"/kim/{kim.public_ref}/ubah", data, files)
            return ("ok", kim.id) if outcome[0] == "ok" else outcome
        return self._api("PATCH", f"/api/v1/kims/{kim.id}", data, files)


def register_everywhere(app, make_user, data, files=None, transports=TRANSPORTS) -> dict:
    """What each transport stores or answers; each registrant's new KIM is removed before the next
    transport, so the duplicate guard judges every transport against the same KIMs."""
    results = {}
    for transport in transports:
        outcome = Sender(app, make_user(name="Relawan Binanga"), transport).create(data, files)
        if outcome[0] == "ok":
            kim = db.session.get(Kim, outcome[1])
            results[transport] = row(kim)
            db.session.delete(kim)
            db.session.flush()
        else:
            results[transport] = outcome
    return results


def shape(outcome):
    """A refusal with its field names only (`same` compares the messages too)."""
    return (outcome[0], set(outcome[1]), *outcome[2:])


def same(results: dict):
    first, *others = results.values()
    assert all(other == first for other in others), results
    return first


@pytest.mark.parametrize("case", list(CREATE))
def test_registering_gives_the_same_row_or_errors_everywhere(app, make_user, case):
    changes, refused = CREATE[case]
    stored = same(register_everywhere(app, make_user, payload(changes)))
    if refused is not None:
        assert shape(stored) == ("error", refused)
        if case == "not a date":  # the services' message, in Indonesian, on the page too (not WTForms')
            assert stored[1] == {"founded_on": "Gunakan format tanggal TTTT-BB-HH."}
        return
    assert stored["status"] == ("submitted" if case == "save and submit" else "draft")
    assert not stored["numbered"] and stored["ketua"] == ["Relawan Binanga"]
    assert stored["name"] == "KIM Binanga Maju" and stored["desa_code"] == DESA
    assert stored["point"] == f"POINT({LON} {LAT})"
    if case == "valid, every field":
        assert stored["email"] == "kim.binanga@example.id" and stored["whatsapp"].startswith("+62")
        assert stored["socials"] == {"instagram": "https://instagram.com/kimbinanga",
                                     "website": "https://kim-binanga.id"}
        assert stored["founded_on"].isoformat() == FOUNDED_ON and stored["address"] == "Jl. Yos Sudarso 12"
    elif case == "repeated and blank bidang":
        assert stored["bidang"] == ["literasi", "media"]
    elif case == "one bidang as a single value":
        assert stored["bidang"] == ["kesehatan"]
    else:
        assert stored["address"] is None and stored["description"] is None and stored["socials"] == {}


def test_the_json_socials_object_is_the_same_as_the_pages_social_fields(app, make_user):
    page = register_everywhere(app, make_user, payload({"social_instagram": "instagram.com/kimbinanga"}), None,
                               ("page",))
    api = register_everywhere(app, make_user, payload({"socials": {"instagram": "instagram.com/kimbinanga"}}),
                              None, ("json",))
    assert page["page"] == api["json"] and page["page"]["socials"] == {"instagram": "https://instagram.com/kimbinanga"}
    refused = register_everywhere(app, make_user, payload({"socials": {"myspace": "myspace.com/kim"}}), None,
                                  ("json",))
    assert shape(refused["json"]) == ("error", {"socials.myspace"})


def test_a_repeated_form_field_counts_once_on_the_page_and_in_multipart(app, make_user):
    """Form fields (page, multipart API) repeat: the first value of a single field is taken."""
    stored = same(register_everywhere(app, make_user, payload({"name": ["KIM Binanga Maju", "KIM Lain"],
                                                               "lat": [LAT, "0"]}), None, ("page", "multipart")))
    assert stored["name"] == "KIM Binanga Maju" and stored["point"] == f"POINT({LON} {LAT})"
    # In JSON a list is no text: refused, never half taken.
    refused = register_everywhere(app, make_user, payload({"name": ["KIM Binanga Maju", "KIM Lain"]}), None,
                                  ("json",))
    assert shape(refused["json"]) == ("error", {"name"})


def test_the_logo_and_sk_scan_are_taken_by_the_page_and_the_api_alike(app, make_user):
    transports = ("page", "multipart")
    stored = same(register_everywhere(app, make_user, payload({}), {"logo": png(), "sk_file": png((9, 9, 9))},
                                      transports))
    assert stored["logo"] and stored["sk_file"]
    refused = same(register_everywhere(app, make_user, payload({}), {"logo": b"not an image"}, transports))
    assert shape(refused) == ("error", {"logo"})


def test_the_duplicate_guard_and_its_confirm_step_are_the_same_everywhere(app, make_user, make_kim):
    public = make_kim(name="KIM Binanga Maju Bersama")
    make_kim(name="KIM Binanga Maju Jaya", status="draft", members=[(make_user(name="Ketua Lain"), "ketua")])
    warned = same(register_everywhere(app, make_user, payload({})))
    assert shape(warned) == ("duplicate", {"confirm_not_duplicate"}, [public.id], True)
    # The guard comes after the field checks: a bad field is shown first, as the API answers.
    assert shape(same(register_everywhere(app, make_user, payload({"founded_on": "kemarin"})))) == \
        ("error", {"founded_on"})
    for confirmation in ("1", "true", "on"):
        stored = same(register_everywhere(app, make_user, payload({"confirm_not_duplicate": confirmation})))
        assert stored["name"] == "KIM Binanga Maju" and stored["status"] == "draft"
    not_confirmed = same(register_everywhere(app, make_user, payload({"confirm_not_duplicate": "false"})))
    assert not_confirmed[0] == "duplicate"


def test_the_api_takes_a_json_boolean_confirmation(app, client, make_user, make_kim):
    make_kim(name="KIM Binanga Maju Bersama")
    headers = bearer(make_user())
    assert client.post("/api/v1/kims", json={**BASE, "confirm_not_duplicate": False}, headers=headers).status_code == 409
    assert client.post("/api/v1/kims", json={**BASE, "confirm_not_duplicate": True}, headers=headers).status_code == 201




@pytest.mark.parametrize("transport", TRANSPORTS)
def test_at_most_six_bidang_are_judged_before_any_query_per_slug(app, make_user, transport):
    """Seven slugs or nine hundred (a form takes at most 1000 parts) cost the same statements."""
    counts = {}
    for size in (7, 900):
        sender = Sender(app, make_user(), transport)
        with counting() as seen:
            outcome = sender.create(payload({"bidang": [f"bidang-{n}" for n in range(size)]}))
        assert shape(outcome) == ("error", {"bidang"})
        counts[size] = len(seen)
    assert counts[7] == counts[900], counts
    known = [b.slug for b in db.session.scalars(select(Bidang).order_by(Bidang.slug))]
    assert len(known) > 6  # seven real bidang are refused too, not only unknown ones
    assert shape(Sender(app, make_user(), transport).create(payload({"bidang": known[:7]}))) == ("error", {"bidang"})


EDITS = {
    # case: (KIM status, changes, None for a stored row or the field names refused)
    "rename only": ("draft", {"name": "KIM Binanga Baru"}, None),
    "empty desa code keeps the desa": ("draft", {"desa_code": "", "name": "KIM Binanga Baru"}, None),
    "blank desa code keeps the desa": ("draft", {"desa_code": "  "}, None),
    "empty address clears it": ("draft", {"address": ""}, None),
    "empty social fields clear the socials": ("draft", {"social_instagram": "", "social_x": ""}, None),
    "move the pin": ("draft", {"lat": "-2,7", "lon": "118,96"}, None),
    "save and submit a draft": ("draft", {"action": "submit"}, None),
    "submit asked of a verified KIM only saves": ("verified", {"action": "submit", "name": "KIM Binanga Baru"}, None),
    "repeated bidang": ("verified", {"bidang": ["kesehatan", "kesehatan", "media"]}, None),
    "blank name": ("draft", {"name": " "}, {"name"}),
    "not a date": ("draft", {"sk_date": "2024-13-01"}, {"sk_date"}),
    "too many bidang": ("draft", {"bidang": [f"bidang-{n}" for n in range(9)]}, {"bidang"}),
    "unknown bidang": ("draft", {"bidang": ["literasi", "terbang-layang"]}, {"bidang"}),
    "no bidang": ("draft", {"bidang": ["", ""]}, {"bidang"}),
    "empty coordinates": ("draft", {"lat": "", "lon": ""}, {"lat"}),
    "point outside the kabupaten": ("draft", {"lat": MAKASSAR["lat"], "lon": MAKASSAR["lon"]}, {"lat"}),
    "no such desa": ("draft", {"desa_code": "76.02.01.1999"}, {"desa_code"}),
    "unknown action": ("draft", {"action": "hapus"}, {"action"}),
}


def edit_everywhere(app, make_user, make_kim, status, data, files=None, editor_role="ketua", transports=TRANSPORTS):
    results = {}
    for transport in transports:
        ketua = make_user(name="Ketua Binanga")
        kim = make_kim(name="KIM Binanga Lama", status=status, members=[(ketua, "ketua")], address="Jl. Lama 1")
        kim.socials = {"instagram": "https://instagram.com/kimlama"}
        db.session.flush()
        editor = ketua if editor_role == "ketua" else make_user(role="pembina", scope="76.02")
        outcome = Sender(app, editor, transport).edit(kim, data, files)
        results[transport] = row(kim) if outcome[0] == "ok" else outcome
    return results


@pytest.mark.parametrize("case", list(EDITS))
def test_editing_gives_the_same_row_or_errors_everywhere(app, make_user, make_kim, case):
    status, changes, refused = EDITS[case]
    stored = same(edit_everywhere(app, make_user, make_kim, status, changes))
    if refused is not None:
        assert shape(stored) == ("error", refused)
        return
    assert stored["desa_code"] == DESA
    # Fields left out of the input stay as they were, on the page too.
    assert stored["name"] == changes.get("name", "KIM Binanga Lama")
    assert stored["address"] == (None if case == "empty address clears it" else "Jl. Lama 1")
    assert stored["socials"] == ({} if case == "empty social fields clear the socials"
                                 else {"instagram": "https://instagram.com/kimlama"})
    assert stored["status"] == {"save and submit a draft": "submitted"}.get(case, status)
    if case == "move the pin":
        assert stored["point"] == "POINT(118.96 -2.7)"
    else:
        assert stored["point"] == f"POINT({DESA_POINT[1]} {DESA_POINT[0]})"
    if case == "repeated bidang":
        assert stored["bidang"] == ["kesehatan", "media"]


def test_a_pembina_moving_a_kim_out_of_their_region_is_refused_alike(app, make_user, make_kim):
    stored = same(edit_everywhere(app, make_user, make_kim, "verified", MAKASSAR, editor_role="pembina"))
    assert shape(stored) == ("error", {"desa_code"})


def test_a_new_logo_on_an_edit_through_the_page_and_the_api(app, make_user, make_kim):
    stored = same(edit_everywhere(app, make_user, make_kim, "verified", {}, {"logo": png()},
                                  transports=("page", "multipart")))
    assert stored["logo"] and stored["name"] == "KIM Binanga Lama"


def test_the_api_refuses_a_body_that_is_not_an_object(client, make_user, make_kim):
    ketua = make_user()
    kim = make_kim(members=[(ketua, "ketua")])
    for method, url in (("post", "/api/v1/kims"), ("patch", f"/api/v1/kims/{kim.id}")):
        for body in ([BASE], "KIM", 12):
            response = getattr(client, method)(url, json=body, headers=bearer(ketua))
            assert response.status_code == 400, (url, body)
            assert response.get_json()["error"]["code"] == "bad_request"
