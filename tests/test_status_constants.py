"""Statuses are named once next to their models and shown to people by their label (issue 15)."""
import re

import pytest

from kim_platform import permissions
from kim_platform.activities import models as activity_models
from kim_platform.activities.models import Activity, ActivityStatus
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims import models as kim_models
from kim_platform.kims.models import KimStatus
from tests.conftest import login


def _report(kim, author, title, status, **fields):
    activity = Activity(kim_id=kim.id, kim=kim, author_id=author.id, title=title, activity_date=clock.today(),
                        type="diskusi", desa_code=kim.desa_code, status=status, **fields)
    db.session.add(activity)
    db.session.flush()
    return activity


def _status_marks(html: str, title: str) -> list[str]:
    """The bold status marks on the list card of the report titled `title`."""
    card = html[html.index(f">{title}</a>"):]
    card = card[:card.index("</li>")]
    return re.findall(r"<strong>([^<]*)</strong>", card)


def test_report_lists_show_the_translated_status_not_the_code(client, kim_with_member):
    """A member sees their KIM's draft and hidden reports on its profile, marked in Indonesian."""
    kim, member, _ = kim_with_member
    _report(kim, member, "Rapat draf", ActivityStatus.DRAFT)
    _report(kim, member, "Rapat disembunyikan", ActivityStatus.HIDDEN, hidden_reason="Foto tidak sesuai.")
    _report(kim, member, "Rapat terbit", ActivityStatus.PUBLISHED)
    login(client, member)
    html = client.get(f"/kim/{kim.public_ref}").get_data(as_text=True)
    assert _status_marks(html, "Rapat draf") == ["draf"]
    assert _status_marks(html, "Rapat disembunyikan") == ["disembunyikan oleh pembina"]
    assert _status_marks(html, "Rapat terbit") == []


@pytest.mark.parametrize("module, cls", [(kim_models, KimStatus), (activity_models, ActivityStatus)])
def test_each_status_has_a_label_and_the_tuples_are_its_codes(module, cls):
    assert set(module.STATUS_LABELS) == set(module.STATUSES) == set(cls.ALL)
    assert all(module.status_label(code) == module.STATUS_LABELS[code] for code in cls.ALL)


def test_the_rule_tuples_are_made_of_kim_statuses():
    for subset in (KimStatus.PUBLIC, KimStatus.SUBMITTABLE, KimStatus.UNVERIFIED):
        assert set(subset) <= set(KimStatus.ALL)
    assert permissions.PUBLIC_KIM_STATUSES == KimStatus.PUBLIC == (KimStatus.VERIFIED, KimStatus.INACTIVE)


def test_the_database_checks_the_same_codes():
    """The CHECK constraints (built from the constants) accept exactly the named codes."""
    for table, codes in (("kim", KimStatus.ALL), ("activity", ActivityStatus.ALL),
                         ("kim_invitation", kim_models.InvitationStatus.ALL)):
        definition = db.session.execute(db.text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
            "AND conname LIKE '%status%' AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%ANY%'"),
            {"t": table}).scalar()
        assert set(re.findall(r"'(\w+)'", definition)) == set(codes), (table, definition)


def test_unhiding_a_report_still_waiting_for_photos_audits_the_status_it_returns_to(kim_with_member, make_user):
    """Shown again while its photos are still due, a report goes back to draft, and the audit log
    says so (it used to record "published" whatever the report became)."""
    from sqlalchemy import select

    from kim_platform.activities import services
    from kim_platform.activities.models import PendingAction
    from kim_platform.audit.models import AuditEntry

    kim, member, _ = kim_with_member
    pembina = make_user(role="pembina", scope="76.02")
    waiting = _report(kim, member, "Menunggu foto", ActivityStatus.DRAFT, photos_expected=1,
                      pending_action=PendingAction.PUBLISH)
    complete = _report(kim, member, "Lengkap", ActivityStatus.PUBLISHED)
    for activity in (waiting, complete):
        services.hide_activity(pembina, activity, "Periksa dulu isinya.")
        services.unhide_activity(pembina, activity)
    db.session.flush()
    after = {int(e.object_id): e.after["status"] for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "activity.unhide"))}
    assert after == {waiting.id: ActivityStatus.DRAFT, complete.id: ActivityStatus.PUBLISHED}
    assert (waiting.status, complete.status) == (ActivityStatus.DRAFT, ActivityStatus.PUBLISHED)
