"""Control characters (issue 14, L10): refused at input on pages and in the API, one rule for
every text field; every Atom feed parses as XML, hostile-but-allowed text included."""
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from kim_platform.accounts.models import ApiToken, User
from kim_platform.activities import services as activity_services
from kim_platform.activities.models import Activity
from kim_platform.core import clock
from kim_platform.core.text import forbidden_character, text_problem
from kim_platform.extensions import db
from kim_platform.kims.models import Kim
from tests.conftest import DESA, bearer, csrf_token, login
from tests.test_activities import REPORT

ATOM = "{http://www.w3.org/2005/Atom}"
# Allowed, and each a trap for hand-made XML: markup, entities, CDATA end, quotes, emoji,
# right-to-left override and Arabic, combining marks, a zero-width joiner family.
HOSTILE_TITLE = "Rapat & <b>warga</b> \"RT 01\" 'RW' ]]> 🎉 \u202eكتاب\u202c e\u0301 👨\u200d👩\u200d👧"
HOSTILE_NAME = "KIM <Maju> & Jaya 🚀 \u202eنص\u202c"
HOSTILE_DESCRIPTION = "Baris satu & <script>alert(1)</script>\n\tBaris dua ]]> 🙂\r\nالعربية"
# NUL is refused with 400 at the door already (core.security), before any field is read.
CONTROL = ["\x01", "\x08", "\x0b", "\x1b", "\x1f", "\x7f"]


def test_the_rule():
    for character in CONTROL + ["\x00", "\t", "\n", "\r", "\ud800", "\uffff"]:
        assert forbidden_character(f"a{character}b") == character
    for character in CONTROL + ["\x00", "\ud800", "\ufffe"]:
        assert forbidden_character(f"a{character}b", multiline=True) == character
    for allowed in ("a\tb\nc\r\nd", HOSTILE_DESCRIPTION):
        assert forbidden_character(allowed, multiline=True) is None
    for allowed in (HOSTILE_TITLE, HOSTILE_NAME, "", None, 42):
        assert forbidden_character(allowed) is None
    assert "U+001B" in str(text_problem("a\x1bb"))


def _feeds(kim) -> list[str]:
    return [f"/wilayah/{code}/kegiatan.atom" for code in ("76", "76.02", "76.02.01", DESA)] + \
        [f"/kim/{kim.public_ref}/kegiatan.atom", f"/kim/{kim.slug}/kegiatan.atom"]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_atom_feed_parses_with_hostile_but_allowed_text(client, make_user, make_kim, lang):
    admin = make_user()
    kim = make_kim(name=HOSTILE_NAME, members=[(admin, "admin")])
    response = client.post(f"/api/v1/kims/{kim.id}/activities", headers=bearer(admin),
                           json={**REPORT, "title": HOSTILE_TITLE, "description": HOSTILE_DESCRIPTION,
                                 "tags": ["<tag>", "&amp;"], "links": ["https://contoh.id/?a=1&b=<2>"]})
    assert response.status_code == 201, response.get_json()
    for path in _feeds(kim):
        answer = client.get(f"{path}?lang={lang}")
        assert answer.status_code == 200 and answer.mimetype == "application/atom+xml", path
        feed = ET.fromstring(answer.get_data())  # raises on invalid XML
        entries = feed.findall(f"{ATOM}entry")
        assert [e.findtext(f"{ATOM}title") for e in entries] == [HOSTILE_TITLE], path
        assert entries[0].findtext(f"{ATOM}author/{ATOM}name") == HOSTILE_NAME, path
        assert "<script>" not in entries[0].findtext(f"{ATOM}content"), path


def test_a_feed_stays_valid_xml_with_rows_stored_before_the_rule(client, make_user, make_kim):
    """Rows written before input was checked (or by hand) cannot make a feed unreadable."""
    author = make_user()
    kim = make_kim(name="KIM Lama\x01", members=[(author, "ketua")])
    db.session.add(Activity(kim_id=kim.id, kim=kim, author_id=author.id, title="Judul\x0b lama\x1b",
                            activity_date=clock.today(), type="diskusi", desa_code=kim.desa_code,
                            description_html="<p>isi\x08</p>", status="published"))
    db.session.flush()
    for path in _feeds(kim):
        feed = ET.fromstring(client.get(path).get_data())
        assert feed.find(f"{ATOM}entry").findtext(f"{ATOM}title") == "Judul lama", path


MESSAGE_ID = ("Hapus karakter kontrol", "Tulis dalam satu baris")


def _refused(response, field) -> bool:
    body = response.get_json()
    message = body["error"]["fields"][field]
    return response.status_code == 422 and message.startswith(MESSAGE_ID)


@pytest.mark.parametrize("character", CONTROL + ["\n", "\t", "\ud800"])
def test_api_refuses_control_characters_in_single_line_fields(client, make_user, make_kim, character):
    admin = make_user(role="direktorat")
    kim = make_kim(members=[(admin, "admin")])
    headers = bearer(admin)
    text = f"Nama{character}Jahat"
    new_kim = {"name": text, "bidang": ["literasi"], "desa_code": DESA, "lat": -2.749192, "lon": 118.967345}
    assert _refused(client.post("/api/v1/kims", json=new_kim, headers=headers), "name")
    for field in ("name", "address", "sk_number", "sk_issuer"):
        assert _refused(client.patch(f"/api/v1/kims/{kim.id}", json={field: text}, headers=headers), field), field
    assert _refused(client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "title": text},
                                headers=headers), "title")
    assert _refused(client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "tags": ["baik", text]},
                                headers=headers), "tags")
    links = client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "links": [f"https://a.id/{text}"]},
                        headers=headers)
    assert links.status_code == 422 and "links" in links.get_json()["error"]["fields"]
    register = client.post("/api/v1/auth/register", json={"name": text, "email": "baru@example.id",
                                                          "password": "ombak pantai barat"})
    assert _refused(register, "name")
    token = client.post("/api/v1/auth/token", json={"email": admin.email, "password": "kopi-tubruk-di-mamuju",
                                                    "label": text})
    assert token.status_code == 422 and "label" in str(token.get_json()["error"]["fields"])
    bidang = client.post("/api/v1/bidang", json={"slug": "uji-kontrol", "name_id": text, "name_en": "Test"},
                         headers=headers)
    assert bidang.status_code == 422 and "name_id" in str(bidang.get_json()["error"]["fields"])
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 0
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == "baru@example.id")) == 0
    db.session.expire_all()
    assert db.session.get(Kim, kim.id).name != text


@pytest.mark.parametrize("character", CONTROL)
def test_api_refuses_control_characters_in_multi_line_fields(client, make_user, make_kim, character):
    admin = make_user(role="pembina", scope="76")
    kim = make_kim(members=[(admin, "admin")])
    headers = bearer(admin)
    text = f"Baris satu\nBaris{character}dua"
    assert _refused(client.patch(f"/api/v1/kims/{kim.id}", json={"description": text}, headers=headers),
                    "description")
    assert _refused(client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "description": text},
                                headers=headers), "description")
    activity = activity_services.create_activity(admin, kim, REPORT)
    db.session.flush()
    hide = client.post(f"/api/v1/activities/{activity.id}/hide", json={"reason": f"Alasan {text}"}, headers=headers)
    assert hide.status_code == 422 and db.session.get(Activity, activity.id).status == "published"


def test_line_breaks_and_tabs_stay_allowed_in_descriptions(client, make_user, make_kim):
    admin = make_user()
    kim = make_kim(members=[(admin, "admin")])
    text = "Baris satu\n\tBaris dua\r\nBaris tiga"
    assert client.patch(f"/api/v1/kims/{kim.id}", json={"description": text}, headers=bearer(admin)).status_code == 200
    created = client.post(f"/api/v1/kims/{kim.id}/activities", json={**REPORT, "description": text},
                          headers=bearer(admin))
    assert created.status_code == 201 and created.get_json()["description"] == text


@pytest.mark.parametrize("character", ["\x01", "\x1b", "\x7f"])
def test_pages_refuse_control_characters_with_a_message(client, make_user, make_kim, character):
    admin = make_user()
    kim = make_kim(members=[(admin, "admin")])
    login(client, admin)
    text = f"Nama{character}Jahat"
    report = client.post(f"/kim/{kim.public_ref}/lapor", data={**REPORT, "title": text, "links": "", "tags": "",
                                                              "csrf_token": csrf_token(client)})
    assert report.status_code == 422 and "Hapus karakter kontrol" in report.get_data(as_text=True)
    kim_form = {"name": text, "bidang": "literasi", "desa_code": DESA, "lat": "-2.749192", "lon": "118.967345",
                "csrf_token": csrf_token(client)}
    for path in ("/kim/daftar", f"/kim/{kim.public_ref}/ubah"):
        answer = client.post(path, data=kim_form)
        assert answer.status_code == 422 and "Hapus karakter kontrol" in answer.get_data(as_text=True), path
    profile = client.post("/akun/ubah", data={"name": text, "csrf_token": csrf_token(client)})
    assert profile.status_code == 422 and "Hapus karakter kontrol" in profile.get_data(as_text=True)
    token = client.post("/akun/token", data={"label": text, "csrf_token": csrf_token(client)})
    assert token.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == admin.id)) == 0
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 0
    db.session.expire_all()
    assert db.session.get(Kim, kim.id).name != text and db.session.get(User, admin.id).name != text


def test_registration_page_refuses_a_control_character_in_the_name(client):
    response = client.post("/daftar", data={"name": "Siti\x1bRahma", "email": "siti@example.id",
                                            "password": "sungai mandar biru", "csrf_token": csrf_token(client)})
    assert response.status_code == 422 and "Hapus karakter kontrol" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == "siti@example.id")) == 0
