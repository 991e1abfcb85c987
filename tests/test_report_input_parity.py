"""The report form and the API parse a report's input with one parser (activities.forms).

The same payloads go through the page (form fields), the API as JSON and the API as multipart
form fields; each must store the same row, or refuse with the same field errors. Before the
shared parser only the page dropped an empty desa code or empty coordinates, publishing on an
edit differed, and the API could not ask the pembina to review a hidden report.
"""
import pytest
from flask import template_rendered
from sqlalchemy import func, select

from kim_platform.activities import services
from kim_platform.activities.models import Activity
from kim_platform.core import clock
from kim_platform.extensions import db
from tests.conftest import bearer, csrf_token, login

TODAY = clock.today().isoformat()
BASE = {"title": "Diskusi warga", "date": TODAY, "type": "diskusi", "description": "Warga **berbagi** kabar.",
        "reach_offline": "45", "reach_online": "", "links": "https://example.id/a", "tags": "warga, #kabar"}
CREATE = {
    "valid": {},
    "empty desa_code": {"desa_code": ""},
    "empty lat/lon": {"lat": "", "lon": ""},
    "with a point": {"lat": "-2.6801", "lon": "118.8930"},
    "bad date": {"date": "kemarin"},
    "missing title": {"title": None},
    "draft": {"action": "draft"},
    "publish": {"action": "publish"},
    "unknown action": {"action": "terbang"},
}
TRANSPORTS = ("page", "json", "multipart")


def payload(changes: dict) -> dict:
    return {k: v for k, v in {**BASE, **changes}.items() if v is not None}


def row(activity: Activity) -> dict:
    db.session.expire(activity)
    point = db.session.scalar(select(func.ST_AsText(Activity.point)).where(Activity.id == activity.id))
    return {"title": activity.title, "date": activity.activity_date, "type": activity.type,
            "description": activity.description_md, "desa_code": activity.desa_code, "point": point,
            "reach_offline": activity.reach_offline, "reach_online": activity.reach_online,
            "links": list(activity.links or []), "tags": list(activity.tags or []), "status": activity.status,
            "review_requested": activity.review_requested_at is not None}


class Sender:
    """Posts a payload through one transport; answers ("ok", activity id) or ("error", field names)."""

    def __init__(self, app, user, transport):
        self.transport = transport
        self.client = app.test_client()
        if transport == "page":
            login(self.client, user)
            self.headers = {}
        else:
            self.headers = bearer(user)

    def _page(self, url, data):
        captured = {}

        def remember(sender, template, context, **extra):
            captured.update(context)

        data = {**data, "csrf_token": csrf_token(self.client)}
        with template_rendered.connected_to(remember):
            response = self.client.post(url, data=data)
        if response.status_code == 302:
            return "ok", None
        assert response.status_code == 422, response.get_data(as_text=True)[:500]
        return "error", set(captured["errors"])

    def _api(self, method, url, data):
        if self.transport == "json":
            response = self.client.open(url, method=method, json=data, headers=self.headers)
        else:
            response = self.client.open(url, method=method, data=data, headers=self.headers,
                                        content_type="multipart/form-data")
        body = response.get_json()
        if response.status_code in (200, 201):
            return "ok", body["id"]
        assert response.status_code == 422, body
        return "error", set(body["error"]["fields"])

    def create(self, kim, data):
        if self.transport == "page":
            before = set(db.session.scalars(select(Activity.id)))
            outcome, _ = self._page(f"/kim/{kim.public_ref}/lapor", data)
            if outcome == "ok":
                (new,) = set(db.session.scalars(select(Activity.id))) - before
                return outcome, new
            return outcome, _
        return self._api("POST", f"/api/v1/kims/{kim.id}/activities", data)

    def edit(self, activity, data):
        if self.transport == "page":
            outcome, fields = self._page(f"/kegiatan/{activity.id}/ubah", data)
            return outcome, activity.id if outcome == "ok" else fields
        return self._api("PATCH", f"/api/v1/activities/{activity.id}", data)


def outcomes(app, user, send) -> dict:
    results = {}
    for transport in TRANSPORTS:
        outcome, value = send(Sender(app, user, transport))
        if outcome == "ok":
            results[transport] = row(db.session.get(Activity, value))
        else:
            results[transport] = ("error", value)
    return results


@pytest.mark.parametrize("case", list(CREATE))
def test_creating_gives_the_same_row_or_errors_everywhere(app, kim_with_member, case):
    kim, member, _ = kim_with_member
    results = outcomes(app, member, lambda sender: sender.create(kim, payload(CREATE[case])))
    assert results["page"] == results["json"] == results["multipart"], results
    stored = results["page"]
    if case in ("bad date", "missing title", "unknown action"):
        field = {"bad date": "date", "missing title": "title", "unknown action": "action"}[case]
        assert stored == ("error", {field})
    elif case == "draft":
        assert stored["status"] == "draft"
    else:
        assert stored["status"] == "published" and stored["desa_code"] == kim.desa_code
        assert stored["tags"] == ["warga", "kabar"] and stored["links"] == ["https://example.id/a"]
        assert (stored["point"] is not None) == (case == "with a point")


EDITS = {
    "draft, save": ("draft", {"title": "Diubah"}, "draft", False),
    "draft, publish": ("draft", {"title": "Diubah", "action": "publish"}, "published", False),
    "draft, publish flag": ("draft", {"title": "Diubah", "publish": "true"}, "published", False),
    "draft, empty place": ("draft", {"desa_code": "", "lat": "", "lon": ""}, "draft", False),
    "hidden, review": ("hidden", {"title": "Diubah", "action": "review"}, "hidden", True),
    "published, bad date": ("published", {"date": "kemarin"}, None, False),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_editing_gives_the_same_row_or_errors_everywhere(app, make_user, kim_with_member, case):
    kim, member, _ = kim_with_member
    status, changes, expected_status, review = EDITS[case]
    pembina = make_user(role="pembina", scope="76")
    results = {}
    for transport in TRANSPORTS:
        activity = services.create_activity(member, kim, payload({"lat": "-2.6801", "lon": "118.8930"}),
                                            publish=status != "draft")
        if status == "hidden":
            services.hide_activity(pembina, activity, "Memuat data pribadi.")
        db.session.flush()
        outcome, value = Sender(app, member, transport).edit(activity, changes)
        results[transport] = row(db.session.get(Activity, value)) if outcome == "ok" else ("error", value)
    assert results["page"] == results["json"] == results["multipart"], results
    if expected_status is None:
        assert results["page"] == ("error", {"date"})
    else:
        assert results["page"]["status"] == expected_status and results["page"]["review_requested"] is review
        assert results["page"]["point"] is not None  # empty coordinates leave the point as it was


def test_the_api_asks_for_a_review_of_a_hidden_report(client, make_user, kim_with_member):
    kim, member, _ = kim_with_member
    activity = services.create_activity(member, kim, payload({}))
    url = f"/api/v1/activities/{activity.id}/review"
    assert client.post(url, headers=bearer(member)).status_code == 409  # not hidden
    services.hide_activity(make_user(role="pembina", scope="76"), activity, "Memuat data pribadi.")
    db.session.flush()
    response = client.post(url, headers=bearer(member))
    assert response.status_code == 200 and response.get_json()["status"] == "hidden"
    db.session.refresh(activity)
    assert activity.review_requested_at is not None
