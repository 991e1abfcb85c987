"""Slots (core.slots, issue 15): a page of a lower domain shows the panels that higher domains
register in its named slots, in order, each with its own visibility rule; the pages that used to
import upwards (the KIM profile, the region page, Akun saya, /api/v1/me, the user directory) do not.
"""
import configparser
from pathlib import Path

import pytest
from jinja2 import ChoiceLoader, DictLoader

from kim_platform.accounts.slots import ACCOUNT_PAGE, API_ME, USER_DIRECTORY_CONNECTED
from kim_platform.activities.slots import REPORT_CHECK, REPORT_CREATED, REPORT_FIELDS, REPORT_FORM
from kim_platform.core import clock
from kim_platform.core.slots import EXTENSION, Slot, slot
from kim_platform.extensions import db
from kim_platform.kims.models import KimInvitation
from kim_platform.kims.slots import PROFILE, PROFILE_SUMMARY, REGION_HEALTH
from kim_platform.maps.slots import TILE_FILTERS
from kim_platform.regions.slots import REGION_PAGE
from kim_platform.teladan.models import KimScore
from tests.conftest import bearer, login

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def scratch_slots(app, monkeypatch):
    """Panels a test registers are gone afterwards: each slot's list is restored, and the test's
    templates are served before the app's."""
    registry = app.extensions[EXTENSION]
    for declared in (PROFILE, PROFILE_SUMMARY, REGION_PAGE, ACCOUNT_PAGE, API_ME, USER_DIRECTORY_CONNECTED):
        monkeypatch.setitem(registry, declared.name, list(registry.get(declared.name, [])))
    templates = {}
    monkeypatch.setattr(app.jinja_env, "loader", ChoiceLoader([DictLoader(templates), app.jinja_env.loader]))
    return templates


def test_the_app_fills_each_slot_from_the_domain_above(app):
    """The wiring of create_app: who fills which slot, in which order."""
    with app.app_context():
        filled = {s.name: [e.name for e in s.entries()]
                  for s in (PROFILE_SUMMARY, PROFILE, REGION_PAGE, ACCOUNT_PAGE, API_ME, USER_DIRECTORY_CONNECTED,
                            REPORT_FORM, REPORT_FIELDS, REPORT_CHECK, REPORT_CREATED, REGION_HEALTH, TILE_FILTERS)}
    assert filled == {
        "kim_profile.summary": ["health.state", "teladan.score"],
        "kim_profile": ["campaigns.for_this_kim", "aspirations.this_kim", "activities.recent", "health.follow_up"],
        "region_page": ["activities.latest", "aspirations.figures"],
        "account_page": ["kims.memberships", "kims.invitations", "campaigns.for_my_kims", "aspirations.my_kims"],
        "api_me": ["kims.memberships"],
        "user_directory.connected": ["kims.members"],
        "activity_report_form": ["campaigns.dissemination"],
        "activity_report.fields": ["campaigns.dissemination"],
        "activity_report.check": ["campaigns.dissemination"],
        "activity_report.created": ["campaigns.dissemination"],
        "kim_health.by_region": ["health.by_region"],
        "map_tiles.filters": ["health.state"],
    }


def test_a_registered_panel_renders_on_the_kim_profile_in_its_order(app, client, make_kim, scratch_slots):
    kim = make_kim(name="KIM Panel Uji")
    scratch_slots["tests/_panel.html"] = '<section class="test-panel">{{ label }} · {{ kim.name }}</section>'
    seen = []

    def panel(kim, viewer):
        seen.append((kim.id, viewer.is_authenticated))
        return {"label": "<b>Paket informasi</b>", "kim": kim}

    PROFILE.register(app, "tests.before", panel, order=5, template="tests/_panel.html")
    PROFILE.register(app, "tests.hidden", lambda kim, viewer: None, order=50, template="tests/_panel.html")
    html = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    assert seen == [(kim.id, False)]
    assert html.count('class="test-panel"') == 1  # the panel returning None shows nothing
    # Rendered by its own template, escaped, before the reports (order 5 < 10), after the actions.
    assert "&lt;b&gt;Paket informasi&lt;/b&gt; · KIM Panel Uji" in html
    assert html.index('class="test-panel"') < html.index('id="kegiatan"')
    assert html.index('<dl class="facts">') < html.index('class="test-panel"')


def test_the_profile_shows_its_panels_where_they_were(client, make_user, make_kim):
    """The score under the facts, the actions, then the reports, then the nearby KIMs; the breakdown
    and the next steps for a member only (the score panel's visibility rule)."""
    member = make_user()
    kim = make_kim(members=[(member, "ketua")])
    make_kim(name="KIM Tetangga")
    today = clock.today()
    db.session.add(KimScore(kim_id=kim.id, as_of=today, score=61, regularity=50, recency=1, variety=1, reach=1,
                            evidence=1, completeness=1, active_months=3, last_report_on=today, eligible=True,
                            score_90_days_ago=60))
    db.session.flush()
    anonymous = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    assert 'class="kim-score"' in anonymous and "score-breakdown" not in anonymous
    login(client, member)
    html = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    marks = ['<dl class="facts">', 'class="kim-score"', "score-breakdown", 'class="next-steps"',
             'class="kim-actions"', 'id="kegiatan"', "Lapor kegiatan", "KIM Tetangga"]
    positions = [html.index(mark) for mark in marks]
    assert positions == sorted(positions), dict(zip(marks, positions))
    draft = make_kim(status="draft", members=[(member, "ketua")])
    assert 'class="kim-score"' not in client.get(f"/kim/{draft.public_ref}").get_data(as_text=True)


def test_a_registered_panel_renders_on_the_region_page(app, client, scratch_slots):
    scratch_slots["tests/_region.html"] = '<section class="test-panel">{{ region.code }}</section>'
    REGION_PAGE.register(app, "tests.region", lambda region: {"region": region}, order=20,
                         template="tests/_region.html")
    html = client.get("/wilayah/76.02").get_data(as_text=True)
    assert '<section class="test-panel">76.02</section>' in html
    assert html.index("Kegiatan terbaru di sini") < html.index('class="test-panel"')


def test_a_registered_panel_renders_on_the_account_page(app, client, make_user, make_kim, scratch_slots):
    user = make_user()
    make_kim(name="KIM Akun Saya", members=[(user, "admin")])
    inviter = make_user()
    other = make_kim(name="KIM Mengundang")
    db.session.add(KimInvitation(kim_id=other.id, email=user.email, role="anggota", invited_by_id=inviter.id))
    db.session.flush()
    scratch_slots["tests/_account.html"] = '<section class="test-panel">{{ user.name }}</section>'
    ACCOUNT_PAGE.register(app, "tests.account", lambda user: {"user": user}, order=15,
                          template="tests/_account.html")
    login(client, user)
    html = client.get("/akun").get_data(as_text=True)
    # My KIMs (10), the test's panel (15), the invitations (20), then the page's own sections.
    marks = ["KIM Akun Saya", 'class="test-panel"', 'id="undangan"', "KIM Mengundang", "Token API"]
    positions = [html.index(mark) for mark in marks]
    assert positions == sorted(positions), dict(zip(marks, positions))


def test_api_me_takes_its_sections_from_the_slot(app, client, make_user, make_kim, scratch_slots):
    user = make_user()
    kim = make_kim(name="KIM Saya", members=[(user, "ketua")])
    headers = bearer(user)
    assert client.get("/api/v1/me", headers=headers).get_json()["memberships"] == [
        {"kim_id": kim.id, "kim_name": "KIM Saya", "role": "ketua"}]
    # A later section of the same field overrides: sections apply in order.
    API_ME.register(app, "tests.me", lambda user: {"memberships": []}, order=90)
    assert client.get("/api/v1/me", headers=headers).get_json()["memberships"] == []


def test_the_user_directory_ors_in_the_conditions_of_its_slot(app, client, make_user, make_kim, scratch_slots):
    """A pembina provinsi finds by name the members of a KIM in the province (kims' condition) and
    whoever another registered condition connects; nobody else."""
    provinsi = make_user(role="pembina", scope="76")
    member, stranger = make_user(name="Anggota Cocok Satu"), make_user(name="Orang Cocok Dua")
    make_kim(members=[(member, "anggota")])
    headers = bearer(provinsi)

    def names():
        body = client.get("/api/v1/users?q=Cocok", headers=headers).get_json()
        return sorted(u["name"] for u in body["items"])

    assert names() == ["Anggota Cocok Satu"]
    USER_DIRECTORY_CONNECTED.register(app, "tests.stranger", lambda user_id, scope: user_id == stranger.id)
    assert names() == ["Anggota Cocok Satu", "Orang Cocok Dua"]


def test_slots_refuse_mistakes(app):
    html = slot("kim_profile")
    with pytest.raises(ValueError, match="template"):
        html.register(app, "tests.no_template", lambda **_: {})
    with pytest.raises(ValueError, match="data slot"):
        API_ME.register(app, "tests.template", lambda **_: {}, template="x.html")
    with pytest.raises(ValueError, match="already registered"):
        PROFILE.register(app, "activities.recent", lambda **_: {}, template="x.html")
    with pytest.raises(ValueError, match="declared twice"):
        Slot("kim_profile", "again")
    with pytest.raises(LookupError, match="no slot"):
        slot("kim_profil")
    with app.app_context(), pytest.raises(TypeError):
        API_ME.render(user=None)


# The pages that compose other domains' parts through slots, and the domains above them.
MOVED = {
    "kim_platform.kims.views": ("kim_platform.activities", "kim_platform.teladan"),
    "kim_platform.regions.views": ("kim_platform.activities",),
    "kim_platform.accounts.api": ("kim_platform.kims",),
    "kim_platform.accounts.queries": ("kim_platform.kims",),
    "kim_platform.accounts.views": ("kim_platform.kims",),
}


def test_no_debt_is_left_for_the_composed_pages():
    """setup.cfg ignores no upward import of these pages any more: the contracts (run by
    tests/test_architecture.py) hold without them."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    ignored = []
    for section in config.sections():
        for line in config[section].get("ignore_imports", "").splitlines():
            if "->" in line:
                importer, imported = (part.strip() for part in line.split("->"))
                ignored.append((importer, imported))
    leftovers = [(a, b) for a, b in ignored
                 if any(a.startswith(page) and b.startswith(above) for page, aboves in MOVED.items()
                        for above in aboves)]
    assert leftovers == []
