"""Every state-changing service × every role → allowed, or refused with 403 / 404, called directly.

The services check permissions themselves (kim_platform.permissions), so a page, an API route,
a CLI command and a job cannot disagree; this matrix calls them without HTTP. A public function
added to any `kim_platform/<domain>/services.py` without a row here (or an exemption saying why
it changes nothing a role decides) fails `test_every_service_function_has_a_rule`, as a new route
fails the route matrix (tests/test_permission_matrix.py).

The world of each case: a KIM in Kabupaten Mamuju (76.02), Sulawesi Barat (76), with its ketua, an
admin and an anggota (the author of its report), an account to appoint, a pembina of 76.02 to
dismiss, and invitations to the KIM: one for the actor's own address, one for somebody else's.
"""
import importlib
import importlib.util
import inspect
import io
import pkgutil
from dataclasses import dataclass
from typing import Callable

import pytest
from PIL import Image
from sqlalchemy import func, select, text

import kim_platform
from kim_platform import permissions
from kim_platform.accounts import services as accounts
from kim_platform.accounts.services import AccountError
from kim_platform.activities import services as activities
from kim_platform.activities.models import Activity
from kim_platform.audit.models import AuditEntry
from kim_platform.aspirations import services as aspirations
from kim_platform.campaigns import services as campaigns
from kim_platform.core import clock
from kim_platform.core.domain import DomainError
from kim_platform.extensions import db
from kim_platform.health import services as health
from kim_platform.kims import services as kims
from kim_platform.regionchanges import services as regionchanges
from tests.conftest import DESA, DESA_POINT, PASSWORD, SAMPLE_DIR

ROLES = ("anonymous", "relawan", "member", "kim_admin", "ketua", "pembina_in", "pembina_out", "pembina_prov",
         "pembina_prov_out", "direktorat", "system")
ROLE_GRANTS = {
    "pembina_in": ("pembina", "76.02"),
    "pembina_out": ("pembina", "73.71"),
    "pembina_prov": ("pembina", "76"),
    "pembina_prov_out": ("pembina", "73"),
    "direktorat": ("direktorat", None),
}
KIM_ROLES = {"member": "anggota", "kim_admin": "admin", "ketua": "ketua"}

EVERYONE = frozenset(ROLES)
PERSONS = EVERYONE - {"anonymous", "system"}
NOBODY = frozenset()
DIREKTORAT = frozenset({"direktorat", "system"})
KIM_REGION = frozenset({"pembina_in", "pembina_prov"}) | DIREKTORAT
KIM_MANAGERS = frozenset({"kim_admin", "ketua"}) | DIREKTORAT
KIM_MEMBERS = frozenset({"member", "kim_admin", "ketua"})  # persons in the KIM, any role
KIM_EDITORS = KIM_REGION | KIM_MANAGERS
REPORTERS = frozenset({"member", "kim_admin", "ketua", "direktorat"})  # persons only: a report has an author
GRANTERS_FOR_7602 = frozenset({"pembina_prov"}) | DIREKTORAT
ROLE_MANAGERS = frozenset({"pembina_prov", "pembina_prov_out"}) | DIREKTORAT
# Who may not even see a draft KIM or a hidden report: they are answered 404, as by the routes.
OUTSIDERS = frozenset({"anonymous", "relawan", "pembina_out", "pembina_prov_out"})


@dataclass
class World:
    actor: object
    kim: object
    other: object  # an anggota of the KIM, the author of its report
    activity: object
    target: object  # an account to appoint, deactivate, or add
    appointed: object  # a pembina of 76.02 to dismiss
    invitation: object  # to the KIM for the actor's own address (persons only)
    foreign_invitation: object  # to the KIM for the target's address
    campaign: object = None  # of the pembina of 76.02 for 76.02, with a PDF material
    aspiration: object = None  # recorded by the anggota, handled by the pembina of 76.02

    def membership(self, user):
        return next(m for m in self.kim.memberships if m.user_id == user.id)

    @property
    def own_membership(self):
        """The actor's membership, or (for those without one) the anggota's."""
        role = permissions.kim_role(self.actor, self.kim)
        return self.membership(self.actor if role else self.other)

    @property
    def me_or_target(self):
        """Whom a self-service call adds: the actor if a person, else the target."""
        return self.actor if permissions.is_person(self.actor) else self.target


@dataclass
class Rule:
    call: Callable[[World], object]
    allowed: frozenset
    hidden: frozenset = NOBODY  # denied with 404 (the object is not revealed); other denials are 403
    rejected: frozenset = NOBODY  # past the permission check, their (invalid) input is refused: 422
    kim_status: str = "verified"
    activity_status: str = "published"
    campaign_status: str = "published"
    aspiration_state: str = "baru"  # or "dijawab", or "published" (answered and published)


def _image(fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(out, format=fmt)
    return out.getvalue()


KIM_INPUT = {"name": "KIM Matriks Layanan", "bidang": ["literasi"], "desa_code": DESA,
             "lat": DESA_POINT[0], "lon": DESA_POINT[1]}
REPORT = {"title": "Rapat warga", "type": "diskusi"}  # the date is added per call (clock.today())
NEW_PASSWORD = "teh manis hangat sekali"


def _own_item_waiting_for_a_photo(w: World):
    """The world's item, as if the actor (a person) had sent it from the outbox announcing a photo."""
    if permissions.is_person(w.actor):
        w.aspiration.author_id = w.actor.id
    w.aspiration.photos_expected = 1
    db.session.flush()
    return w.aspiration


def _report() -> dict:
    return {**REPORT, "date": clock.today().isoformat()}


def _own_invitation(w: World, answer):
    return answer(w.actor, w.invitation or w.foreign_invitation)


def _revoke_own_token(w: World):
    token_id = accounts.create_api_token(w.actor, "matriks")[0].id if permissions.is_person(w.actor) else 999_999
    return accounts.revoke_api_token(w.actor, token_id)


def _photo_one_by_one(w: World):
    """Photo 1 of the world's report, sent as waiting for one photo (a draft until then)."""
    w.activity.photos_expected, w.activity.pending_action = 1, "publish"
    db.session.flush()
    return activities.store_report_photo(w.actor, w.activity, 1, _image(), "matriks-foto-1")


def _campaign_input(targets=("76.02",)) -> dict:
    today = clock.today().isoformat()
    return {"title": "Kampanye matriks", "key_message": "Pesan kunci.", "targets": list(targets),
            "start_date": today, "end_date": today}


def _dissemination(w: World):
    return activities.create_activity(w.actor, w.kim, {**_report(), "type": "diseminasi",
                                                       "campaign_id": w.campaign.id, "channel": "grup-whatsapp"})


# Who may not see a draft campaign of the pembina of 76.02 (answered 404).
CAMPAIGN_OUTSIDERS = EVERYONE - KIM_REGION
PDF = b"%PDF-1.4\ntrailer<<>>\n%%EOF\n"
ASPIRATION = {"kind": "informasi", "topic": "bansos", "description": "Kapan bantuan cair?", "resident_name": "Bu Ani"}

# Keyed by "<module>.<function>" plus a variant; every row is one call as every role.

def _place_waiting_kim(w):
    """The KIM's desa retired by a decree without successor: the KIM waits to be placed."""
    db.session.execute(text("UPDATE region SET retired_on = :day WHERE code = :code"),
                       {"day": clock.today(), "code": w.kim.desa_code})
    return regionchanges.place_waiting(w.actor, "kims", w.kim.id, "76.02.01.1003")


MATRIX = {
    # --- KIMs ---------------------------------------------------------------------------------
    ("kims.create_kim",): Rule(lambda w: kims.create_kim(w.actor, dict(KIM_INPUT)), PERSONS),
    ("kims.update_kim",): Rule(lambda w: kims.update_kim(w.actor, w.kim, {"name": "KIM Nama Baru"}), KIM_EDITORS),
    ("kims.update_kim", "invalid input"): Rule(  # the permission is checked before the input is judged
        lambda w: kims.update_kim(w.actor, w.kim, {"name": ""}), NOBODY, rejected=KIM_EDITORS),
    ("kims.update_kim", "draft"): Rule(lambda w: kims.update_kim(w.actor, w.kim, {"name": "KIM Nama Baru"}),
                                       KIM_EDITORS, hidden=OUTSIDERS, kim_status="draft"),
    ("kims.set_files",): Rule(lambda w: kims.set_files(w.actor, w.kim, logo=_image()), KIM_EDITORS),
    ("kims.set_logo",): Rule(lambda w: kims.set_logo(w.actor, w.kim, _image()), KIM_EDITORS),
    ("kims.set_sk_file",): Rule(lambda w: kims.set_sk_file(w.actor, w.kim, _image("JPEG")), KIM_EDITORS),
    ("kims.set_sk_file", "draft"): Rule(lambda w: kims.set_sk_file(w.actor, w.kim, _image("JPEG")), KIM_EDITORS,
                                        hidden=OUTSIDERS, kim_status="draft"),
    ("kims.change_status", "submit"): Rule(lambda w: kims.change_status(w.actor, w.kim, "submit"), KIM_EDITORS,
                                           hidden=OUTSIDERS, kim_status="draft"),
    ("kims.change_status", "verify"): Rule(lambda w: kims.change_status(w.actor, w.kim, "verify"), KIM_REGION,
                                           hidden=OUTSIDERS, kim_status="submitted"),
    ("kims.change_status", "reject"): Rule(lambda w: kims.change_status(w.actor, w.kim, "reject", "Lengkapi SK."),
                                           KIM_REGION, hidden=OUTSIDERS, kim_status="submitted"),
    ("kims.change_status", "deactivate"): Rule(lambda w: kims.change_status(w.actor, w.kim, "deactivate"),
                                               KIM_EDITORS),
    ("kims.change_status", "reactivate"): Rule(lambda w: kims.change_status(w.actor, w.kim, "reactivate"),
                                               KIM_REGION, kim_status="inactive"),
    # --- the bidang taxonomy ------------------------------------------------------------------
    ("kims.create_bidang",): Rule(lambda w: kims.create_bidang(w.actor, {
        "slug": "matriks-baru", "parent_slug": None, "name_id": "Bidang Baru", "name_en": "New field"}), DIREKTORAT),
    # --- membership: nobody becomes a member without consent ----------------------------------
    ("kims.add_member", "own invitation"): Rule(lambda w: kims.add_member(
        w.actor, w.kim, w.me_or_target, (w.invitation or w.foreign_invitation).role,
        invitation=w.invitation or w.foreign_invitation), PERSONS | {"system"}),
    ("kims.add_member", "somebody else's invitation"): Rule(lambda w: kims.add_member(
        w.actor, w.kim, w.target, "anggota", invitation=w.foreign_invitation), frozenset({"system"})),
    ("kims.add_member", "somebody else, directly"): Rule(lambda w: kims.add_member(
        w.actor, w.kim, w.target, "ketua"), frozenset({"system"})),
    ("kims.add_member", "join code"): Rule(lambda w: kims.add_member(
        w.actor, w.kim, w.me_or_target, "anggota", join_code=w.kim.join_code), PERSONS | {"system"}),
    ("kims.add_member", "wrong join code"): Rule(lambda w: kims.add_member(
        w.actor, w.kim, w.me_or_target, "anggota", join_code="SALAHKOD"), frozenset({"system"})),
    ("kims.add_member", "join code for a higher role"): Rule(lambda w: kims.add_member(
        w.actor, w.kim, w.me_or_target, "admin", join_code=w.kim.join_code), frozenset({"system"})),
    ("kims.join_by_code",): Rule(lambda w: kims.join_by_code(w.actor, w.kim.join_code), PERSONS),
    ("kims.join_by_code", "draft"): Rule(lambda w: kims.join_by_code(w.actor, w.kim.join_code), PERSONS,
                                         kim_status="draft"),
    ("kims.set_member_role",): Rule(lambda w: kims.set_member_role(w.actor, w.kim, w.membership(w.other), "admin"),
                                    KIM_MANAGERS),
    ("kims.remove_member",): Rule(lambda w: kims.remove_member(w.actor, w.kim, w.membership(w.other)), KIM_MANAGERS),
    ("kims.remove_member", "leave"): Rule(lambda w: kims.remove_member(w.actor, w.kim, w.own_membership),
                                          KIM_MANAGERS | {"member"}),
    ("kims.remove_member", "draft"): Rule(lambda w: kims.remove_member(w.actor, w.kim, w.membership(w.other)),
                                          KIM_MANAGERS, hidden=OUTSIDERS, kim_status="draft"),
    ("kims.new_join_code",): Rule(lambda w: kims.new_join_code(w.actor, w.kim), KIM_MANAGERS),
    # --- invitations -------------------------------------------------------------------------
    ("kims.invite_member",): Rule(lambda w: kims.invite_member(w.actor, w.kim, "baru@example.id"), KIM_MANAGERS),
    ("kims.invite_member", "draft"): Rule(lambda w: kims.invite_member(w.actor, w.kim, "baru@example.id"),
                                          KIM_MANAGERS, hidden=OUTSIDERS, kim_status="draft"),
    ("kims.accept_invitation",): Rule(lambda w: _own_invitation(w, kims.accept_invitation), PERSONS,
                                      hidden=frozenset({"anonymous", "system"})),
    ("kims.accept_invitation", "somebody else's"): Rule(
        lambda w: kims.accept_invitation(w.actor, w.foreign_invitation), NOBODY, hidden=EVERYONE),
    ("kims.decline_invitation",): Rule(lambda w: _own_invitation(w, kims.decline_invitation), PERSONS,
                                       hidden=frozenset({"anonymous", "system"})),
    ("kims.decline_invitation", "somebody else's"): Rule(
        lambda w: kims.decline_invitation(w.actor, w.foreign_invitation), NOBODY, hidden=EVERYONE),
    # --- activity reports (written by another anggota) ----------------------------------------
    ("activities.create_activity",): Rule(lambda w: activities.create_activity(w.actor, w.kim, _report()),
                                          REPORTERS),
    ("activities.create_activity", "draft KIM"): Rule(
        lambda w: activities.create_activity(w.actor, w.kim, _report()), REPORTERS, hidden=OUTSIDERS,
        kim_status="draft"),
    ("activities.update_activity",): Rule(lambda w: activities.update_activity(w.actor, w.activity, {"title": "Baru"}),
                                          KIM_MANAGERS),
    ("activities.update_activity", "hidden"): Rule(
        lambda w: activities.update_activity(w.actor, w.activity, {"title": "Baru"}), KIM_MANAGERS,
        hidden=OUTSIDERS, activity_status="hidden"),
    ("activities.publish_activity",): Rule(lambda w: activities.publish_activity(w.actor, w.activity), KIM_MANAGERS,
                                           hidden=OUTSIDERS, activity_status="draft"),
    ("activities.delete_activity",): Rule(lambda w: activities.delete_activity(w.actor, w.activity), KIM_MANAGERS),
    ("activities.request_review",): Rule(lambda w: activities.request_review(w.actor, w.activity), KIM_MANAGERS,
                                         hidden=OUTSIDERS, activity_status="hidden"),
    ("activities.finish_edit", "publish"): Rule(lambda w: activities.finish_edit(w.actor, w.activity, "publish"),
                                                KIM_MANAGERS, hidden=OUTSIDERS, activity_status="draft"),
    ("activities.finish_edit", "review"): Rule(lambda w: activities.finish_edit(w.actor, w.activity, "review"),
                                               KIM_MANAGERS, hidden=OUTSIDERS, activity_status="hidden"),
    # --- offline reports: sent once, photos one by one (issue #16) -----------------------------
    ("activities.submit_report",): Rule(lambda w: activities.submit_report(w.actor, w.kim, _report(),
                                                                           key="matriks-laporan"), REPORTERS),
    ("activities.submit_report", "draft KIM"): Rule(
        lambda w: activities.submit_report(w.actor, w.kim, _report(), key="matriks-laporan"), REPORTERS,
        hidden=OUTSIDERS, kim_status="draft"),
    ("activities.store_report_photo",): Rule(_photo_one_by_one, KIM_MANAGERS, hidden=OUTSIDERS,
                                             activity_status="draft"),
    # --- moderation -------------------------------------------------------------------------
    ("activities.hide_activity",): Rule(
        lambda w: activities.hide_activity(w.actor, w.activity, "Memuat data pribadi."), KIM_REGION),
    ("activities.unhide_activity",): Rule(lambda w: activities.unhide_activity(w.actor, w.activity), KIM_REGION,
                                          hidden=OUTSIDERS, activity_status="hidden"),
    # --- dissemination campaigns (a campaign of the pembina of 76.02) --------------------------
    ("campaigns.create_campaign",): Rule(lambda w: campaigns.create_campaign(w.actor, _campaign_input()), KIM_REGION),
    ("campaigns.create_campaign", "another region"): Rule(
        lambda w: campaigns.create_campaign(w.actor, _campaign_input(["73.71"])),
        frozenset({"pembina_out", "pembina_prov_out"}) | DIREKTORAT),
    ("campaigns.update_campaign",): Rule(lambda w: campaigns.update_campaign(w.actor, w.campaign, {"title": "Baru"}),
                                         KIM_REGION),
    ("campaigns.update_campaign", "draft"): Rule(
        lambda w: campaigns.update_campaign(w.actor, w.campaign, {"title": "Baru"}), KIM_REGION,
        hidden=CAMPAIGN_OUTSIDERS, campaign_status="draft"),
    ("campaigns.publish_campaign",): Rule(lambda w: campaigns.publish_campaign(w.actor, w.campaign), KIM_REGION,
                                          hidden=CAMPAIGN_OUTSIDERS, campaign_status="draft"),
    ("campaigns.close_campaign",): Rule(lambda w: campaigns.close_campaign(w.actor, w.campaign), KIM_REGION),
    ("campaigns.add_material",): Rule(lambda w: campaigns.add_material(w.actor, w.campaign, PDF, "jadwal.pdf"),
                                      KIM_REGION),
    ("campaigns.remove_material",): Rule(
        lambda w: campaigns.remove_material(w.actor, w.campaign, w.campaign.materials[0].id), KIM_REGION),
    ("campaigns.link_dissemination",): Rule(_dissemination, REPORTERS),
    ("campaigns.create_share_link",): Rule(lambda w: campaigns.create_share_link(w.actor, w.campaign, w.kim),
                                           KIM_MEMBERS),
    ("campaigns.create_share_link", "draft"): Rule(lambda w: campaigns.create_share_link(w.actor, w.campaign, w.kim),
                                                   NOBODY, hidden=CAMPAIGN_OUTSIDERS, campaign_status="draft"),

    # --- KIM health (issue 19) ---------------------------------------------------------------------
    ("health.add_contact_note",): Rule(
        lambda w: health.add_contact_note(w.actor, w.kim, "Ditelepon; rapat pengurus minggu depan."), KIM_REGION),
    ("health.add_contact_note", "draft"): Rule(
        lambda w: health.add_contact_note(w.actor, w.kim, "Ditelepon."), KIM_REGION, hidden=OUTSIDERS,
        kim_status="draft"),
    ("health.confirm_data",): Rule(lambda w: health.confirm_data(w.actor, w.kim), frozenset({"kim_admin", "ketua"})),
    ("health.confirm_data", "draft"): Rule(lambda w: health.confirm_data(w.actor, w.kim),
                                           frozenset({"kim_admin", "ketua"}), hidden=OUTSIDERS, kim_status="draft"),

    # --- region code changes (issue 19): the directorate and the CLI ---------------------------
    ("regionchanges.apply_decree", "no decree"): Rule(  # the permission is checked before the input is judged
        lambda w: regionchanges.apply_decree(w.actor, SAMPLE_DIR, None, "", clock.today()), NOBODY,
        rejected=DIREKTORAT),
    ("regionchanges.place_waiting",): Rule(_place_waiting_kim, DIREKTORAT),

    # --- aspirations (an item of the KIM, handled by the pembina of 76.02) ----------------------
    ("aspirations.submit_aspiration",): Rule(
        lambda w: aspirations.submit_aspiration(w.actor, w.kim, ASPIRATION), frozenset({"member", "kim_admin", "ketua"})),
    ("aspirations.submit_aspiration", "draft"): Rule(
        lambda w: aspirations.submit_aspiration(w.actor, w.kim, ASPIRATION), NOBODY, hidden=OUTSIDERS,
        kim_status="draft"),
    ("aspirations.send_aspiration",): Rule(
        lambda w: aspirations.send_aspiration(w.actor, w.kim, ASPIRATION, key="matriks-1", photo_count=1),
        frozenset({"member", "kim_admin", "ketua"})),
    # Evidence sent one by one: the item's author (made the actor's own here), while a member.
    ("aspirations.store_evidence_photo",): Rule(
        lambda w: aspirations.store_evidence_photo(w.actor, _own_item_waiting_for_a_photo(w), 1, _image(), "foto-1"),
        frozenset({"member", "kim_admin", "ketua"}), hidden=OUTSIDERS),
    ("aspirations.publish_clarification",): Rule(
        lambda w: aspirations.publish_clarification(w.actor, w.aspiration),
        frozenset({"member", "kim_admin", "ketua"}), hidden=OUTSIDERS, aspiration_state="hoaks_dijawab"),
    ("aspirations.transition",): Rule(lambda w: aspirations.transition(w.actor, w.aspiration, "diverifikasi"),
                                      KIM_REGION, hidden=OUTSIDERS),
    ("aspirations.transition", "transfer"): Rule(
        lambda w: aspirations.transition(w.actor, w.aspiration, "bukan_wewenang", {"reason": "Bukan kami.",
                                                                                   "target": "naik"}),
        KIM_REGION, hidden=OUTSIDERS),
    ("aspirations.transition", "delivered"): Rule(
        lambda w: aspirations.transition(w.actor, w.aspiration, "disampaikan", {
            "how": "Rapat RT", "delivered_on": clock.today().isoformat()}),
        frozenset({"member", "kim_admin", "ketua"}), hidden=OUTSIDERS, aspiration_state="dijawab"),
    ("aspirations.publish_aspiration",): Rule(
        lambda w: aspirations.publish_aspiration(w.actor, w.aspiration, {"public_title": "Judul", "public_text": "Teks."}),
        KIM_REGION, hidden=OUTSIDERS, aspiration_state="dijawab"),
    ("aspirations.unpublish_aspiration",): Rule(lambda w: aspirations.unpublish_aspiration(w.actor, w.aspiration),
                                                KIM_REGION, hidden=OUTSIDERS, aspiration_state="published"),
    # --- roles and accounts -------------------------------------------------------------------
    ("accounts.grant_role",): Rule(lambda w: accounts.grant_role(w.actor, w.target, "pembina", "76.02"),
                                   GRANTERS_FOR_7602),
    ("accounts.grant_role", "invalid scope"): Rule(  # the permission is checked before the input is judged
        lambda w: accounts.grant_role(w.actor, w.target, "pembina", "99"), NOBODY, rejected=ROLE_MANAGERS),
    ("accounts.revoke_role",): Rule(lambda w: accounts.revoke_role(w.actor, w.appointed, "pembina"),
                                    GRANTERS_FOR_7602),
    ("accounts.set_active",): Rule(lambda w: accounts.set_active(w.actor, w.target, False), DIREKTORAT),
    ("accounts.create_admin",): Rule(
        lambda w: accounts.create_admin(w.actor, "admin.baru@example.id", "ombak pantai barat sekali"), DIREKTORAT),
    ("accounts.create_api_token",): Rule(lambda w: accounts.create_api_token(w.actor, "matriks"), PERSONS),
    ("accounts.revoke_api_token",): Rule(_revoke_own_token, PERSONS),
    ("accounts.change_password",): Rule(lambda w: accounts.change_password(w.actor, PASSWORD, NEW_PASSWORD), PERSONS),
    ("accounts.update_profile",): Rule(lambda w: accounts.update_profile(w.actor, "Nama Baru", None), PERSONS),
}

# Public functions of the services modules that no role decides, and why.
EXEMPT = {
    # Pure helpers: parse, validate, sign, compute; they write nothing.
    **dict.fromkeys((
        "kims.validate_social_url", "kims.clean_kim_input",
        "kims.random_join_codes", "kims.invitation_token", "kims.invitation_id_from_token", "kims.invitation_is_open",
        "activities.render_markdown", "activities.clean_activity_input", "activities.check_photos",
        "activities.request_fingerprint", "activities.clean_delivery",
        "accounts.sha256", "accounts.normalise_email", "accounts.normalise_whatsapp",
        "accounts.email_verification_token", "accounts.password_reset_token", "accounts.device_cookie",
        "accounts.known_device", "accounts.login_refusal", "campaigns.clean_campaign_input",
    ), "pure helper"),
    # Reads (what a viewer may see is the visibility rule's business, not a write's).
    **dict.fromkeys((
        "kims.known_bidang", "kims.similar_kims", "kims.look_alikes_for", "kims.look_alikes_of_page",
        "kims.answerable_invitation", "activities.known_types", "accounts.user_for_reset_token",
    ), "read only"),
    # Authorised by a secret, not a role: there is no acting user yet.
    "accounts.register": "anyone signs up (no acting user); the same answer whether the address is taken",
    "accounts.verify_email": "the signed link mailed to the address is the authority",
    "accounts.reset_password": "the signed, single-use link mailed to the address is the authority",
    "accounts.authenticate": "the password is the authority (it may only rehash it)",
    "accounts.start_login_session": "called right after authenticate: the checked password is the authority",
    "accounts.end_login_session": "the session token is the authority (logging out)",
    "accounts.user_for_session_token": "the session token is the authority (it only resolves it)",
    "accounts.user_for_api_token": "the API token is the authority (it only notes its last use)",
    # Derived data and building blocks of authorised writes.
    "kims.next_number": "allocates the next KIM number inside change_status(verify), which authorised it",
    "activities.refresh_last_activity": "recomputes a derived date from published reports; decides nothing",
    "activities.reencode_pending_photo": "the photo job: finishes a photo its report's authorised write stored",
    "campaigns.close_ended_campaigns": "the daily job: stores the closed status every read already shows",
    "aspirations.escalate_overdue": "the daily job: flags items past the deadlines the state machine set",
    "aspirations.purge_personal": "the daily job: deletes residents' data of items closed long ago (UU PDP)",
    "aspirations.clean_aspiration_input": "pure helper: validates an intake, writes nothing",
    "aspirations.check_evidence": "pure helper: judges images from their headers, writes nothing",
    "aspirations.send_escalation_digests": "the daily job: mails the escalations escalate_overdue recorded, once a day",
    "aspirations.clarification_draft": "pure helper: the text of a clarification from an item, writes nothing",
    "campaigns.send_digests": "the daily job: mails the notices publish_campaign (authorised) already wrote",
    "campaigns.sweep_share_visits": "the daily job: deletes visitor hashes of past days (no resident's trace kept)",
    "campaigns.count_share_visit": "anyone opening a public share link counts a visit; no role decides it",
    "campaigns.is_link_preview": "pure helper: tells a chat app's link preview by its User-Agent",

    "health.compute_daily": "the daily job: derives every KIM's health state from its data; decides nothing",
    "health.send_sk_reminders": "the daily job: mails a KIM's admins before its SK ends (recorded, once)",
    "health.send_monthly_digests": "the daily job: mails each pembina the health changes of their scope, once a month",
}
# Helpers that take the acting user but change nothing on their own: they serve the write services.
ACTOR_HELPERS = {
    "kims.authorise": "the write services' refusal (404/403) from a permissions answer",
    "kims.check_daily_cap": "counts the actor's writes of the day (a read; 429 past the cap)",
    "audit.record": "the audit trail written by the write services themselves, inside their transaction",
    "campaigns.dissemination_errors": "judges a new report's campaign fields inside create_activity (a read)",
}
EXEMPT.update(ACTOR_HELPERS)


def _services_modules():
    """Every kim_platform/<domain>/services.py, found by walking the package (new domains included)."""
    for info in pkgutil.iter_modules(kim_platform.__path__):
        if info.ispkg and importlib.util.find_spec(f"kim_platform.{info.name}.services") is not None:
            yield info.name, importlib.import_module(f"kim_platform.{info.name}.services")


def _public_functions() -> dict[str, Callable]:
    return {f"{domain}.{name}": function
            for domain, module in _services_modules()
            for name, function in inspect.getmembers(module, inspect.isfunction)
            if function.__module__ == module.__name__ and not name.startswith("_")}


def test_every_service_function_has_a_rule():
    functions = _public_functions()
    ruled = {key[0] for key in MATRIX}
    missing = set(functions) - ruled - set(EXEMPT)
    assert not missing, f"service functions without a rule in the service matrix (or an exemption): {sorted(missing)}"
    stale = (ruled | set(EXEMPT)) - set(functions)
    assert not stale, f"rules for service functions that no longer exist: {sorted(stale)}"
    assert not ruled & set(EXEMPT), f"both ruled and exempt: {sorted(ruled & set(EXEMPT))}"
    # A function that takes an acting user changes state on its behalf: it needs a rule, not an exemption.
    acting = {name for name, function in functions.items()
              if next(iter(inspect.signature(function).parameters), None) == "actor"}
    exempt_acting = acting & (set(EXEMPT) - set(ACTOR_HELPERS))
    assert not exempt_acting, f"services taking an actor are exempt: {sorted(exempt_acting)}"


def test_the_system_actor_is_explicit_and_none_is_anonymous(make_user):
    """The CLI's bootstrap path is `permissions.SYSTEM`, never a silent `None`."""
    target = make_user()
    with pytest.raises(AccountError) as refused:
        accounts.grant_role(None, target, "direktorat", None)
    assert refused.value.status == 403 and target.grants == []
    grant = accounts.grant_role(permissions.SYSTEM, target, "direktorat", None)
    assert grant.granted_by_id is None and target.is_direktorat
    assert not permissions.is_person(permissions.SYSTEM) and not permissions.is_person(None)


def _world(make_user, make_kim, role: str, rule: Rule) -> World:
    if role == "anonymous":
        actor = None
    elif role == "system":
        actor = permissions.SYSTEM
    else:
        grant = ROLE_GRANTS.get(role)
        actor = make_user(name=f"Aktor {role}", role=grant[0] if grant else None, scope=grant[1] if grant else None)
    target = make_user(name="Calon")
    appointed = make_user(name="Pembina Lama", role="pembina", scope="76.02")
    other = make_user(name="Anggota Lain")
    # A second admin, so that "a KIM needs a ketua or admin" never decides a case.
    members = [(other, "anggota"), (make_user(name="Admin Lain"), "admin")]
    if role != "ketua":
        members.append((make_user(name="Ketua"), "ketua"))
    if role in KIM_ROLES:
        members.append((actor, KIM_ROLES[role]))
    kim = make_kim(status=rule.kim_status, members=members)
    activity = Activity(kim_id=kim.id, kim=kim, author_id=other.id, title="Kegiatan matriks",
                        activity_date=clock.today(), type="diskusi", desa_code=kim.desa_code,
                        status=rule.activity_status,
                        hidden_reason="Alasan." if rule.activity_status == "hidden" else None)
    db.session.add(activity)
    db.session.flush()
    invitation = None
    if permissions.is_person(actor):
        invitation = kims.invite_member(permissions.SYSTEM, kim, actor.email, KIM_ROLES.get(role, "anggota"))
    foreign_invitation = kims.invite_member(permissions.SYSTEM, kim, target.email)
    campaign = campaigns.create_campaign(appointed, _campaign_input())
    campaigns.add_material(appointed, campaign, PDF, "jadwal.pdf")
    if rule.campaign_status != "draft":
        campaigns.publish_campaign(appointed, campaign)
    aspiration = None
    if rule.kim_status == "verified":
        hoax = {"kind": "hoaks", "hoax_claim": "Klaim.", "hoax_channel": "facebook"}
        aspiration = aspirations.submit_aspiration(
            other, kim, {**ASPIRATION, **hoax} if rule.aspiration_state == "hoaks_dijawab" else ASPIRATION)
        if rule.aspiration_state == "hoaks_dijawab":
            aspirations.transition(permissions.SYSTEM, aspiration, "diverifikasi")
            aspirations.transition(permissions.SYSTEM, aspiration, "dijawab", {
                "answer": "Klarifikasi.", "verdict": "hoaks", "factcheck_link": "https://turnbackhoax.id/x"})
        if rule.aspiration_state in ("dijawab", "published"):
            aspirations.transition(permissions.SYSTEM, aspiration, "diverifikasi")
            aspirations.transition(permissions.SYSTEM, aspiration, "dijawab", {"answer": "Jawaban."})
        if rule.aspiration_state == "published":
            aspirations.publish_aspiration(permissions.SYSTEM, aspiration, {"public_title": "Judul", "public_text": "Teks."})
    db.session.flush()
    return World(actor=actor, kim=kim, other=other, activity=activity, target=target, appointed=appointed,
                 invitation=invitation, foreign_invitation=foreign_invitation, campaign=campaign,
                 aspiration=aspiration)


def _audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("service", sorted(MATRIX), ids=" ".join)
def test_service_role(make_user, make_kim, service, role):
    rule = MATRIX[service]
    world = _world(make_user, make_kim, role, rule)
    written = _audit_count()
    if role in rule.allowed:
        rule.call(world)  # no refusal, and no other error either: the inputs are valid
        db.session.flush()
        return
    with pytest.raises(DomainError) as refused:
        rule.call(world)
    expected = 404 if role in rule.hidden else 422 if role in rule.rejected else 403
    assert refused.value.status == expected, f"{role}: {refused.value.status} {refused.value.message}"
    assert _audit_count() == written, "a refused write left an audit entry"


def test_a_join_code_never_changes_a_members_role(make_user, make_kim):
    admin = make_user()
    kim = make_kim(members=[(admin, "admin"), (make_user(), "ketua")])
    kims.add_member(admin, kim, admin, "anggota", join_code=kim.join_code)
    assert permissions.kim_role(admin, kim) == "admin"


def test_the_directorate_cannot_deactivate_itself_from_any_caller(make_user):
    direktur = make_user(role="direktorat")
    with pytest.raises(AccountError) as refused:
        accounts.set_active(direktur, direktur, False)
    assert refused.value.status == 409 and direktur.is_active


def test_the_bidang_api_answers_through_the_service(client, make_user):
    from tests.conftest import bearer

    headers = bearer(make_user(role="direktorat"))
    response = client.post("/api/v1/bidang", headers=headers,
                           json={"slug": "anak-baru", "parent_slug": "tidak-ada", "name_id": "Anak", "name_en": "Child"})
    assert response.status_code == 422
    assert "parent_slug" in response.get_json()["error"]["fields"]
