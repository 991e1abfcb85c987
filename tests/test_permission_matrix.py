"""Every route and API operation × every role → allowed or denied, asserted.

A route added without a rule here fails `test_every_route_has_a_declared_rule`, so the
matrix grows with the app. HTML routes are exercised with a logged-in browser session,
API routes with a Bearer token. "member" is an anggota and "kim_admin" an admin of the
matrix KIM, which lies in Kabupaten Mamuju (76.02), Sulawesi Barat (76).
"""
from dataclasses import dataclass
from typing import Callable

import pytest
from sqlalchemy import select

from kim_platform.accounts.models import ApiToken, RoleGrant
from kim_platform.activities.models import Activity, Photo
from kim_platform.core import clock
from kim_platform.core.storage import storage
from kim_platform.extensions import db
from kim_platform.kims.services import invite_member
from tests.conftest import PASSWORD, bearer, csrf_token, login

ROLES = ("anonymous", "relawan", "member", "kim_admin", "pembina_in", "pembina_out", "pembina_prov",
         "pembina_prov_out", "direktorat")
# Scopes: the objects of the matrix live in Kabupaten Mamuju (76.02), province Sulawesi Barat (76).
ROLE_GRANTS = {
    "pembina_in": ("pembina", "76.02"),
    "pembina_out": ("pembina", "73.71"),
    "pembina_prov": ("pembina", "76"),
    "pembina_prov_out": ("pembina", "73"),
    "direktorat": ("direktorat", None),
}
EVERYONE = frozenset(ROLES)
LOGGED_IN = EVERYONE - {"anonymous"}
ROLE_MANAGERS = frozenset({"pembina_prov", "pembina_prov_out", "direktorat"})
GRANTERS_FOR_7602 = frozenset({"pembina_prov", "direktorat"})
AUDIT_READERS = frozenset({"pembina_in", "pembina_out", "pembina_prov", "pembina_prov_out", "direktorat"})
KIM_REGION = frozenset({"pembina_in", "pembina_prov", "direktorat"})
KIM_EDITORS = KIM_REGION | {"kim_admin"}
KIM_INSIDERS = KIM_EDITORS | {"member"}
KIM_MANAGERS = frozenset({"kim_admin", "direktorat"})
REPORTERS = frozenset({"member", "kim_admin", "direktorat"})
CAMPAIGN_CREATORS = AUDIT_READERS  # the directorate and every pembina (targets inside their scope)
CAMPAIGN_MANAGERS = KIM_REGION  # the matrix campaign is a pembina of 76.02's: they, those above, the directorate
KIM_MEMBERS = frozenset({"member", "kim_admin"})  # a share link and poster of the matrix KIM

# The matrix aspiration: recorded by the KIM's anggota, handled by the pembina of 76.02.
ASPIRATION_MEMBERS = frozenset({"member", "kim_admin"})
ASPIRATION_VIEWERS = ASPIRATION_MEMBERS | KIM_REGION


@dataclass
class Ctx:
    """Objects a case may point at, created fresh for each test."""
    actor: object
    target: object  # a volunteer to appoint
    appointed: object  # a pembina of 76.02 to dismiss
    kim: object = None  # the matrix KIM, in the case's status
    other_member: object = None  # an anggota of it, to remove, and the author of its report
    activity: object = None  # a report of the KIM, with one photo
    actor_token_id: int | None = None
    invitation: object = None  # an invitation to the KIM for the actor's own address
    foreign_invitation: object = None  # one for somebody else's address (the target's)
    campaign: object = None  # a campaign of the pembina of 76.02 for 76.02, in the case's status
    aspiration: object = None  # an item of the KIM (with one evidence photo), handled in 76.02


@dataclass
class Case:
    url: str | Callable[[Ctx], str]
    allowed: frozenset
    data: dict | None = None
    json: dict | Callable[[Ctx], dict] | None = None
    kim_status: str = "verified"
    activity_status: str = "published"
    campaign_status: str = "published"

    def path(self, ctx: Ctx) -> str:
        return self.url(ctx) if callable(self.url) else self.url


def own_token(ctx: Ctx) -> int:
    return ctx.actor_token_id or 999_999


def own_invitation(ctx: Ctx):
    """The actor's own invitation; anonymous visitors have none and try the target's."""
    return ctx.invitation or ctx.foreign_invitation


def ready_export() -> int:
    """A built KIM directory file of the sample's Sulawesi Barat."""
    from kim_platform.core.exports import build_export, request_export
    from kim_platform.kims.exports import KIND

    export, _ = request_export(KIND, "geojson", {"region": "76"})
    build_export(export.id)
    db.session.flush()
    return export.id


def invitation_link(invitation) -> str:
    from kim_platform.kims.services import invitation_token

    return f"/undangan/{invitation_token(invitation)}"


MATRIX = {
    ("home.home", "GET"): Case("/", EVERYONE),
    ("core.set_language", "GET"): Case("/bahasa/en", EVERYONE),
    ("core.favicon", "GET"): Case("/favicon.ico", EVERYONE),
    ("core.healthz", "GET"): Case("/healthz", EVERYONE),
    # The offline app's shell: nothing of the visitor's in it (the outbox lives in the browser).
    ("offline.manifest", "GET"): Case("/manifest.webmanifest", EVERYONE),
    ("offline.service_worker", "GET"): Case("/sw.js", EVERYONE),
    ("offline.needs_connection", "GET"): Case("/luring", EVERYONE),
    ("offline.outbox", "GET"): Case("/kotak-keluar", EVERYONE),
    ("static", "GET"): Case("/static/css/site.css", EVERYONE),
    ("regions.index", "GET"): Case("/wilayah", EVERYONE),
    ("regions.detail", "GET"): Case("/wilayah/76.02", EVERYONE),
    ("regions.search", "GET"): Case("/wilayah/cari?q=mamuju", EVERYONE),
    ("api_meta.docs", "GET"): Case("/api/v1/docs", EVERYONE),
    ("api_meta.openapi_document", "GET"): Case("/api/v1/openapi.json", EVERYONE),
    ("regions_api.Regions", "GET"): Case("/api/v1/regions?q=mamuju", EVERYONE),
    ("regions_api.RegionDetail", "GET"): Case("/api/v1/regions/76.02", EVERYONE),
    ("regions_api.RegionChildren", "GET"): Case("/api/v1/regions/76.02/children", EVERYONE),
    # Accounts: open to everyone (logged-in visitors are redirected to their account).
    ("accounts.register", "GET"): Case("/daftar", EVERYONE),
    ("accounts.register", "POST"): Case("/daftar", EVERYONE, data={"name": "N", "email": "n@example.id",
                                                                   "password": "ombak pantai barat"}),
    ("accounts.login", "GET"): Case("/masuk", EVERYONE),
    ("accounts.login", "POST"): Case("/masuk", EVERYONE, data={"email": "x@example.id", "password": "salah sekali"}),
    ("accounts.forgot_password", "GET"): Case("/lupa-sandi", EVERYONE),
    ("accounts.forgot_password", "POST"): Case("/lupa-sandi", EVERYONE, data={"email": "x@example.id"}),
    ("accounts.reset_password", "GET"): Case("/atur-ulang-sandi/invalid", EVERYONE),
    ("accounts.reset_password", "POST"): Case("/atur-ulang-sandi/invalid", EVERYONE, data={"password": "x"}),
    ("accounts.verify_email", "GET"): Case("/verifikasi/invalid", EVERYONE),
    ("auth_api.Register", "POST"): Case("/api/v1/auth/register", EVERYONE, json={
        "name": "N", "email": "n@example.id", "password": "ombak pantai barat"}),
    ("auth_api.Token", "POST"): Case("/api/v1/auth/token", EVERYONE,
                                     json=lambda c: {"email": c.target.email, "password": PASSWORD}),
    # Own account.
    ("accounts.logout", "POST"): Case("/keluar", LOGGED_IN, data={}),
    ("accounts.profile", "GET"): Case("/akun", LOGGED_IN),
    ("accounts.edit_profile", "GET"): Case("/akun/ubah", LOGGED_IN),
    ("accounts.edit_profile", "POST"): Case("/akun/ubah", LOGGED_IN, data={"name": "Nama"}),
    ("accounts.change_password", "GET"): Case("/akun/sandi", LOGGED_IN),
    ("accounts.change_password", "POST"): Case("/akun/sandi", LOGGED_IN, data={"current_password": "x"}),
    ("accounts.create_token", "POST"): Case("/akun/token", LOGGED_IN, data={"label": "t"}),
    ("accounts.revoke_token", "POST"): Case(lambda c: f"/akun/token/{own_token(c)}/cabut", LOGGED_IN, data={}),
    ("auth_api.Me", "GET"): Case("/api/v1/me", LOGGED_IN),
    ("auth_api.Tokens", "GET"): Case("/api/v1/auth/tokens", LOGGED_IN),
    ("auth_api.TokenItem", "DELETE"): Case(lambda c: f"/api/v1/auth/tokens/{own_token(c)}", LOGGED_IN),
    # Roles: direktorat anywhere, pembina provinsi for kabupaten inside their province.
    ("accounts.users", "GET"): Case("/pengguna", ROLE_MANAGERS),
    ("accounts.grant_role", "POST"): Case(lambda c: f"/pengguna/{c.target.id}/peran", GRANTERS_FOR_7602,
                                          data={"role": "pembina", "scope": "76.02"}),
    ("accounts.revoke_role", "POST"): Case(lambda c: f"/pengguna/{c.appointed.id}/peran/pembina/cabut",
                                           GRANTERS_FOR_7602, data={}),
    ("accounts.set_active", "POST"): Case(lambda c: f"/pengguna/{c.target.id}/aktif", frozenset({"direktorat"}),
                                          data={"active": "0"}),
    ("users_api.Users", "GET"): Case("/api/v1/users", ROLE_MANAGERS),
    ("users_api.UserRoles", "POST"): Case(lambda c: f"/api/v1/users/{c.target.id}/roles", GRANTERS_FOR_7602,
                                          json={"role": "pembina", "scope": "76.02"}),
    ("users_api.UserRole", "DELETE"): Case(lambda c: f"/api/v1/users/{c.appointed.id}/roles/pembina",
                                           GRANTERS_FOR_7602),
    # Invitations: only the invited address's verified owner answers; anyone else gets a 404.
    ("kims.invitation", "GET"): Case(lambda c: invitation_link(own_invitation(c)), LOGGED_IN),
    ("kims.invitation", "GET", "other"): Case(lambda c: invitation_link(c.foreign_invitation), frozenset()),
    ("kims.answer_invitation", "POST"): Case(lambda c: f"/undangan/{own_invitation(c).id}/terima", LOGGED_IN,
                                             data={}),
    ("kims.answer_invitation", "POST", "decline"): Case(lambda c: f"/undangan/{own_invitation(c).id}/tolak",
                                                        LOGGED_IN, data={}),
    ("kims.answer_invitation", "POST", "other"): Case(lambda c: f"/undangan/{c.foreign_invitation.id}/terima",
                                                      frozenset(), data={}),
    ("kims.answer_invitation", "POST", "other decline"): Case(
        lambda c: f"/undangan/{c.foreign_invitation.id}/tolak", frozenset(), data={}),
    ("invitations_api.MyInvitations", "GET"): Case("/api/v1/me/invitations", LOGGED_IN),
    ("invitations_api.InvitationAccept", "POST"): Case(
        lambda c: f"/api/v1/invitations/{own_invitation(c).id}/accept", LOGGED_IN),
    ("invitations_api.InvitationAccept", "POST", "other"): Case(
        lambda c: f"/api/v1/invitations/{c.foreign_invitation.id}/accept", frozenset()),
    ("invitations_api.InvitationDecline", "POST"): Case(
        lambda c: f"/api/v1/invitations/{own_invitation(c).id}/decline", LOGGED_IN),
    ("invitations_api.InvitationDecline", "POST", "other"): Case(
        lambda c: f"/api/v1/invitations/{c.foreign_invitation.id}/decline", frozenset()),
    # KIM registry.
    ("kims.index", "GET"): Case("/kim", EVERYONE),
    ("kims.register", "GET"): Case("/kim/daftar", LOGGED_IN),
    ("kims.register", "POST"): Case("/kim/daftar", LOGGED_IN, data={"name": "x"}),
    ("kims.profile", "GET"): Case(lambda c: f"/kim/{c.kim.public_ref}", EVERYONE),
    ("kims.profile", "GET", "draft"): Case(lambda c: f"/kim/{c.kim.public_ref}", KIM_INSIDERS, kim_status="draft"),
    ("kims.edit", "GET"): Case(lambda c: f"/kim/{c.kim.public_ref}/ubah", KIM_EDITORS),
    ("kims.edit", "POST"): Case(lambda c: f"/kim/{c.kim.public_ref}/ubah", KIM_EDITORS, data={"name": ""}),
    ("kims.change_status", "POST"): Case(lambda c: f"/kim/{c.kim.public_ref}/status/submit", KIM_EDITORS,
                                         data={}, kim_status="draft"),
    ("kims.change_status", "POST", "verify"): Case(lambda c: f"/kim/{c.kim.public_ref}/status/verify", KIM_REGION,
                                                   data={}, kim_status="submitted"),
    ("kims.change_status", "POST", "deactivate"): Case(lambda c: f"/kim/{c.kim.public_ref}/status/deactivate",
                                                       KIM_EDITORS, data={}),
    ("kims.change_status", "POST", "reactivate"): Case(lambda c: f"/kim/{c.kim.public_ref}/status/reactivate",
                                                       KIM_REGION, data={}, kim_status="inactive"),
    ("kims.members", "GET"): Case(lambda c: f"/kim/{c.kim.public_ref}/anggota", KIM_INSIDERS),
    ("kims.members", "POST"): Case(lambda c: f"/kim/{c.kim.public_ref}/anggota", KIM_MANAGERS,
                                   data={"email": "baru@example.id", "role": "anggota"}),
    ("kims.member_action", "POST"): Case(lambda c: f"/kim/{c.kim.public_ref}/anggota/{c.other_member.id}/hapus",
                                         KIM_MANAGERS, data={}),
    ("kims.new_join_code", "POST"): Case(lambda c: f"/kim/{c.kim.public_ref}/kode-gabung", KIM_MANAGERS, data={}),
    ("kims.join", "GET"): Case("/kim/gabung", LOGGED_IN),
    ("kims.join", "POST"): Case("/kim/gabung", LOGGED_IN, data={"code": "NOTACODE"}),
    ("kims.queue", "GET"): Case("/verifikasi", AUDIT_READERS),
    ("kims.sk_file", "GET"): Case(lambda c: f"/kim/{c.kim.public_ref}/sk", KIM_INSIDERS),
    ("kims.logo", "GET"): Case(lambda c: f"/berkas/logo/{c.kim.logo_key}", EVERYONE),
    ("kims.logo", "GET", "draft"): Case(lambda c: f"/berkas/logo/{c.kim.logo_key}", KIM_INSIDERS, kim_status="draft"),
    # The logo route serves logos only: never the SK scan or a photo, whoever asks.
    ("kims.logo", "GET", "sk"): Case(lambda c: f"/berkas/logo/{c.kim.sk_file_key}", frozenset()),
    ("kims.logo", "GET", "photo"): Case(lambda c: f"/berkas/logo/{c.activity.photos[0].key}", frozenset(),
                                        activity_status="hidden"),
    # The directory file holds public data only: anyone may ask for it, follow it and download it.
    ("kims.export_request", "GET"): Case("/kim/ekspor", EVERYONE),
    ("kims.export_request", "POST"): Case("/kim/ekspor", EVERYONE, data={"region": "76", "format": "xlsx"}),
    ("kims.export_status", "GET"): Case(lambda c: f"/kim/ekspor/{ready_export()}", EVERYONE),
    ("kims.export_download", "GET"): Case(lambda c: f"/kim/ekspor/{ready_export()}/unduh", EVERYONE),
    ("kims_api.KimExports", "POST"): Case("/api/v1/kims/exports", EVERYONE, json={"format": "xlsx", "region": "76"}),
    ("kims_api.KimExport", "GET"): Case(lambda c: f"/api/v1/kims/exports/{ready_export()}", EVERYONE),
    ("kims_api.Kims", "GET"): Case("/api/v1/kims", EVERYONE),
    ("kims_api.Kims", "POST"): Case("/api/v1/kims", LOGGED_IN, json={"name": "x"}),
    ("kims_api.KimItem", "GET"): Case(lambda c: f"/api/v1/kims/{c.kim.id}", EVERYONE),
    ("kims_api.KimItem", "GET", "draft"): Case(lambda c: f"/api/v1/kims/{c.kim.id}", KIM_INSIDERS, kim_status="draft"),
    ("kims_api.KimItem", "PATCH"): Case(lambda c: f"/api/v1/kims/{c.kim.id}", KIM_EDITORS, json={"name": "KIM Baru"}),
    ("kims_api.KimSubmit", "POST"): Case(lambda c: f"/api/v1/kims/{c.kim.id}/submit", KIM_EDITORS, kim_status="draft"),
    ("kims_api.KimVerify", "POST"): Case(lambda c: f"/api/v1/kims/{c.kim.id}/verify", KIM_REGION,
                                         kim_status="submitted"),
    ("kims_api.KimReject", "POST"): Case(lambda c: f"/api/v1/kims/{c.kim.id}/reject", KIM_REGION,
                                         json={"reason": "Lengkapi SK."}, kim_status="submitted"),
    ("kims_api.KimDeactivate", "POST"): Case(lambda c: f"/api/v1/kims/{c.kim.id}/deactivate", KIM_EDITORS),
    ("kims_api.KimMembers", "GET"): Case(lambda c: f"/api/v1/kims/{c.kim.id}/members", KIM_INSIDERS),
    ("kims_api.KimMembers", "POST"): Case(lambda c: f"/api/v1/kims/{c.kim.id}/members", KIM_MANAGERS,
                                          json={"email": "baru@example.id"}),
    ("kims_api.KimMember", "DELETE"): Case(lambda c: f"/api/v1/kims/{c.kim.id}/members/{c.other_member.id}",
                                           KIM_MANAGERS),
    ("bidang_api.BidangList", "GET"): Case("/api/v1/bidang", EVERYONE),
    ("bidang_api.BidangList", "POST"): Case("/api/v1/bidang", frozenset({"direktorat"}),
                                            json={"slug": "baru", "name_id": "Baru", "name_en": "New"}),
    # Activity reports (the matrix report is written by another anggota of the KIM).
    ("activities.report", "GET"): Case(lambda c: f"/kim/{c.kim.public_ref}/lapor", REPORTERS),
    ("activities.report", "POST"): Case(lambda c: f"/kim/{c.kim.public_ref}/lapor", REPORTERS, data={"title": ""}),
    ("activities.edit", "GET"): Case(lambda c: f"/kegiatan/{c.activity.id}/ubah", KIM_MANAGERS),
    ("activities.edit", "POST"): Case(lambda c: f"/kegiatan/{c.activity.id}/ubah", KIM_MANAGERS,
                                      data={"title": "Diubah"}),
    ("activities.detail", "GET"): Case(lambda c: f"/kegiatan/{c.activity.id}", EVERYONE),
    ("activities.detail", "GET", "hidden"): Case(lambda c: f"/kegiatan/{c.activity.id}", KIM_INSIDERS,
                                                 activity_status="hidden"),
    ("activities.act", "POST"): Case(lambda c: f"/kegiatan/{c.activity.id}/hapus", KIM_MANAGERS, data={}),
    ("activities.act", "POST", "hide"): Case(lambda c: f"/kegiatan/{c.activity.id}/sembunyikan", KIM_REGION,
                                             data={"reason": "Memuat data pribadi."}),
    ("activities.act", "POST", "unhide"): Case(lambda c: f"/kegiatan/{c.activity.id}/tampilkan", KIM_REGION,
                                               data={}, activity_status="hidden"),
    ("activities.index", "GET"): Case("/kegiatan", EVERYONE),
    ("activities.region_feed", "GET"): Case("/wilayah/76.02/kegiatan.atom", EVERYONE),
    ("activities.kim_feed", "GET"): Case(lambda c: f"/kim/{c.kim.public_ref}/kegiatan.atom", EVERYONE),
    ("activities.moderation", "GET"): Case("/moderasi", AUDIT_READERS),
    ("activities.photo", "GET"): Case(lambda c: f"/foto/{c.activity.photos[0].thumb_key}", EVERYONE),
    ("activities.photo", "GET", "hidden"): Case(lambda c: f"/foto/{c.activity.photos[0].thumb_key}", KIM_INSIDERS,
                                                activity_status="hidden"),
    ("activities_api.Activities", "GET"): Case("/api/v1/activities", EVERYONE),
    ("activities_api.KimActivities", "POST"): Case(lambda c: f"/api/v1/kims/{c.kim.id}/activities", REPORTERS,
                                                   json={"title": ""}),
    ("activities_api.ActivityItem", "GET"): Case(lambda c: f"/api/v1/activities/{c.activity.id}", EVERYONE),
    ("activities_api.ActivityItem", "GET", "hidden"): Case(lambda c: f"/api/v1/activities/{c.activity.id}",
                                                           KIM_INSIDERS, activity_status="hidden"),
    ("activities_api.ActivityItem", "PATCH"): Case(lambda c: f"/api/v1/activities/{c.activity.id}", KIM_MANAGERS,
                                                   json={"title": "Diubah"}),
    ("activities_api.ActivityItem", "DELETE"): Case(lambda c: f"/api/v1/activities/{c.activity.id}", KIM_MANAGERS),
    ("activities_api.ActivityHide", "POST"): Case(lambda c: f"/api/v1/activities/{c.activity.id}/hide", KIM_REGION,
                                                  json={"reason": "Memuat data pribadi."}),
    ("activities_api.ActivityUnhide", "POST"): Case(lambda c: f"/api/v1/activities/{c.activity.id}/unhide",
                                                    KIM_REGION, activity_status="hidden"),
    ("activities_api.ActivityReview", "POST"): Case(lambda c: f"/api/v1/activities/{c.activity.id}/review",
                                                    KIM_MANAGERS, activity_status="hidden"),
    ("activities_api.ActivityPhoto", "PUT"): Case(lambda c: f"/api/v1/activities/{c.activity.id}/photos/1",
                                                  KIM_MANAGERS, data={}),
    ("activities_api.ActivityPhoto", "PUT", "draft"): Case(
        lambda c: f"/api/v1/activities/{c.activity.id}/photos/1", KIM_MANAGERS, data={}, activity_status="draft"),
    ("activities_api.MyCsrfToken", "GET"): Case("/api/v1/me/csrf", LOGGED_IN),
    ("activities_api.MyReporting", "GET"): Case("/api/v1/me/reporting", LOGGED_IN),
    ("activity_types_api.ActivityTypes", "GET"): Case("/api/v1/activity-types", EVERYONE),
    # The national map and its tiles (what a tile shows depends on the viewer, checked in test_maps).
    ("maps.national_map", "GET"): Case("/peta", EVERYONE),
    ("maps.tile", "GET"): Case("/tiles/kims/5/25/16.pbf", EVERYONE),
    ("coverage.index", "GET"): Case("/cakupan?wilayah=76", EVERYONE),
    ("coverage.export", "GET"): Case("/cakupan/ekspor.csv?wilayah=76", EVERYONE),
    ("coverage_api.Gaps", "GET"): Case("/api/v1/coverage/gaps?level=kecamatan&parent=76.02", EVERYONE),
    ("coverage_api.Coverage", "GET"): Case("/api/v1/coverage?level=kabupaten&parent=76", EVERYONE),
    ("coverage_api.Timeseries", "GET"): Case("/api/v1/coverage/timeseries?region=76.02", EVERYONE),
    # KIM teladan: public rankings and score; the next steps inside are checked in test_teladan.
    ("teladan.index", "GET"): Case("/teladan?wilayah=76", EVERYONE),
    ("teladan.examples", "GET"): Case("/teladan/contoh", EVERYONE),
    ("teladan.method", "GET"): Case("/teladan/cara-penilaian", EVERYONE),
    ("teladan_api.Teladan", "GET"): Case("/api/v1/teladan?region=76", EVERYONE),
    ("teladan_api.KimScore", "GET"): Case(lambda c: f"/api/v1/kims/{c.kim.id}/score", EVERYONE),
    ("teladan_api.KimScore", "GET", "draft"): Case(lambda c: f"/api/v1/kims/{c.kim.id}/score", frozenset(),
                                                   kim_status="draft"),
    ("map_api.RegionAt", "GET"): Case("/api/v1/map/region-at?lat=-2.75&lon=118.97&zoom=7", EVERYONE),
    # Audit log: the directorate and every pembina (each sees their own region's entries).
    # Dissemination campaigns (issue 17): public once published; drafts for their managers.
    ("campaigns.index", "GET"): Case("/kampanye", EVERYONE),
    ("campaigns.new", "GET"): Case("/kampanye/baru", CAMPAIGN_CREATORS),
    ("campaigns.new", "POST"): Case("/kampanye/baru", CAMPAIGN_CREATORS, data={"title": ""}),
    ("campaigns.detail", "GET"): Case(lambda c: f"/kampanye/{c.campaign.id}", EVERYONE),
    ("campaigns.detail", "GET", "draft"): Case(lambda c: f"/kampanye/{c.campaign.id}", CAMPAIGN_MANAGERS,
                                               campaign_status="draft"),
    ("campaigns.edit", "GET"): Case(lambda c: f"/kampanye/{c.campaign.id}/ubah", CAMPAIGN_MANAGERS),
    ("campaigns.edit", "POST"): Case(lambda c: f"/kampanye/{c.campaign.id}/ubah", CAMPAIGN_MANAGERS,
                                     data={"title": ""}, campaign_status="draft"),
    ("campaigns.act", "POST"): Case(lambda c: f"/kampanye/{c.campaign.id}/terbitkan", CAMPAIGN_MANAGERS, data={},
                                    campaign_status="draft"),
    ("campaigns.act", "POST", "close"): Case(lambda c: f"/kampanye/{c.campaign.id}/tutup", CAMPAIGN_MANAGERS,
                                             data={}),
    ("campaigns.upload", "POST"): Case(lambda c: f"/kampanye/{c.campaign.id}/materi", CAMPAIGN_MANAGERS, data={}),
    ("campaigns.material", "GET"): Case(lambda c: f"/kampanye/berkas/{c.campaign.materials[0].key}", EVERYONE),
    ("campaigns.material", "GET", "draft"): Case(lambda c: f"/kampanye/berkas/{c.campaign.materials[0].key}",
                                                 CAMPAIGN_MANAGERS, campaign_status="draft"),
    ("campaigns_api.Campaigns", "GET"): Case("/api/v1/campaigns", EVERYONE),
    ("campaigns_api.Campaigns", "POST"): Case("/api/v1/campaigns", CAMPAIGN_CREATORS, json={"title": ""}),
    ("campaigns_api.CampaignItem", "GET"): Case(lambda c: f"/api/v1/campaigns/{c.campaign.id}", EVERYONE),
    ("campaigns_api.CampaignItem", "GET", "draft"): Case(lambda c: f"/api/v1/campaigns/{c.campaign.id}",
                                                         CAMPAIGN_MANAGERS, campaign_status="draft"),
    ("campaigns_api.CampaignItem", "PATCH"): Case(lambda c: f"/api/v1/campaigns/{c.campaign.id}", CAMPAIGN_MANAGERS,
                                                  json={"title": "Kampanye Baru"}),
    ("campaigns_api.CampaignPublish", "POST"): Case(lambda c: f"/api/v1/campaigns/{c.campaign.id}/publish",
                                                    CAMPAIGN_MANAGERS, campaign_status="draft"),
    ("campaigns_api.CampaignClose", "POST"): Case(lambda c: f"/api/v1/campaigns/{c.campaign.id}/close",
                                                  CAMPAIGN_MANAGERS),
    ("campaigns_api.CampaignMaterials", "POST"): Case(lambda c: f"/api/v1/campaigns/{c.campaign.id}/materials",
                                                      CAMPAIGN_MANAGERS, data={}),
    ("campaigns_api.CampaignDisseminations", "GET"): Case(
        lambda c: f"/api/v1/campaigns/{c.campaign.id}/disseminations", EVERYONE),
    ("campaigns_api.CampaignDisseminations", "GET", "draft"): Case(
        lambda c: f"/api/v1/campaigns/{c.campaign.id}/disseminations", CAMPAIGN_MANAGERS, campaign_status="draft"),
    # Share links and posters (issue 17): the link is public, a KIM's poster and link for its members.
    ("campaigns.share_redirect", "GET"): Case(lambda c: f"/p/{_share_code(c)}", EVERYONE),
    ("campaigns.share_redirect", "GET", "draft"): Case(lambda c: f"/p/{_share_code(c)}", frozenset(),
                                                       campaign_status="draft"),
    ("campaigns.poster", "GET"): Case(lambda c: f"/kampanye/{c.campaign.id}/poster", EVERYONE),
    ("campaigns.poster", "GET", "kim"): Case(lambda c: f"/kampanye/{c.campaign.id}/poster?kim={c.kim.id}",
                                             KIM_MEMBERS),
    ("campaigns.poster", "GET", "draft"): Case(lambda c: f"/kampanye/{c.campaign.id}/poster", CAMPAIGN_MANAGERS,
                                               campaign_status="draft"),
    ("campaigns_api.CampaignShareLinks", "GET"): Case(lambda c: f"/api/v1/campaigns/{c.campaign.id}/share-links",
                                                      CAMPAIGN_MANAGERS),
    ("campaigns_api.CampaignShareLinks", "POST"): Case(
        lambda c: f"/api/v1/campaigns/{c.campaign.id}/share-links?kim={c.kim.id}", KIM_MEMBERS),

    # Campaign reach by region (issue 17): the campaign's managers; every campaign's: the directorate.
    ("campaign_reach.dashboard", "GET"): Case(lambda c: f"/kampanye/{c.campaign.id}/jangkauan", CAMPAIGN_MANAGERS),
    ("campaign_reach.export", "GET"): Case(lambda c: f"/kampanye/{c.campaign.id}/jangkauan/ekspor.csv",
                                           CAMPAIGN_MANAGERS),
    ("campaign_reach.national", "GET"): Case("/kampanye/nasional", frozenset({"direktorat"})),
    ("campaign_reach_api.CampaignReach", "GET"): Case(lambda c: f"/api/v1/campaigns/{c.campaign.id}/reach",
                                                      CAMPAIGN_MANAGERS),
    ("campaign_reach_api.CampaignReach", "GET", "draft"): Case(
        lambda c: f"/api/v1/campaigns/{c.campaign.id}/reach", CAMPAIGN_MANAGERS, campaign_status="draft"),
    ("campaign_reach_api.NationalReach", "GET"): Case("/api/v1/campaigns/reach", frozenset({"direktorat"})),

    # KIM health (issue 19): the to-do list for those who foster KIMs; notes by the KIM's region;
    # "data masih benar" by its admins (the matrix actor "kim_admin"; the founder is its ketua).
    ("health.attention", "GET"): Case("/pembina/perlu-perhatian", AUDIT_READERS),
    ("health.contact_note", "POST"): Case(lambda c: f"/kim/{c.kim.public_ref}/sudah-dihubungi", KIM_REGION,
                                          data={"body": ""}),
    ("health.confirm", "POST"): Case(lambda c: f"/kim/{c.kim.public_ref}/data-benar", frozenset({"kim_admin"}),
                                     data={}),
    ("health_api.Attention", "GET"): Case("/api/v1/health/attention", AUDIT_READERS),
    ("health_api.KimHealthItem", "GET"): Case(lambda c: f"/api/v1/health/kims/{c.kim.id}", EVERYONE),
    ("health_api.KimHealthItem", "GET", "draft"): Case(lambda c: f"/api/v1/health/kims/{c.kim.id}",
                                                       KIM_INSIDERS, kim_status="draft"),
    ("health_api.KimNotes", "POST"): Case(lambda c: f"/api/v1/health/kims/{c.kim.id}/notes", KIM_REGION,
                                          json={"body": ""}),
    ("health_api.KimConfirm", "POST"): Case(lambda c: f"/api/v1/health/kims/{c.kim.id}/confirm",
                                            frozenset({"kim_admin"}), json={}),

    # Aspirations (issue 18): the KIM's members and the pembina of the handler scope (and above).
    ("aspirations.new", "GET"): Case(lambda c: f"/kim/{c.kim.public_ref}/aspirasi/baru", ASPIRATION_MEMBERS),
    ("aspirations.new", "POST"): Case(lambda c: f"/kim/{c.kim.public_ref}/aspirasi/baru", ASPIRATION_MEMBERS,
                                      data={"kind": ""}),
    ("aspirations.index", "GET"): Case("/aspirasi", LOGGED_IN),
    ("aspirations.stats", "GET"): Case("/aspirasi/statistik?wilayah=76.02", EVERYONE),
    ("aspirations_api.AspirationStats", "GET"): Case("/api/v1/aspirations/stats?region=76.02", EVERYONE),
    ("aspirations.detail", "GET"): Case(lambda c: f"/aspirasi/{c.aspiration.id}", ASPIRATION_VIEWERS),
    ("aspirations.act", "POST"): Case(lambda c: f"/aspirasi/{c.aspiration.id}/tindak", KIM_REGION,
                                      data={"action": "diverifikasi"}),
    ("aspirations.photo", "GET"): Case(lambda c: f"/aspirasi/foto/{c.aspiration.photos[0].key}", ASPIRATION_VIEWERS),
    ("aspirations_api.Aspirations", "GET"): Case("/api/v1/aspirations", LOGGED_IN),
    ("aspirations_api.Aspirations", "POST"): Case("/api/v1/aspirations", ASPIRATION_MEMBERS,
                                                  json=lambda c: {"kim_id": c.kim.id}),
    ("aspirations_api.AspirationItem", "GET"): Case(lambda c: f"/api/v1/aspirations/{c.aspiration.id}",
                                                    ASPIRATION_VIEWERS),
    ("aspirations_api.AspirationTransitions", "POST"): Case(
        lambda c: f"/api/v1/aspirations/{c.aspiration.id}/transitions", KIM_REGION, json={"action": "diverifikasi"}),
    # Oversight (time to answer, repeated topics, exports): every pembina (their own scope by
    # default) and the directorate; a region outside the scope is a 403. KIM members get 403.
    ("aspirations.performance", "GET"): Case("/aspirasi/kinerja", AUDIT_READERS),
    ("aspirations.performance", "GET", "76.02"): Case("/aspirasi/kinerja?wilayah=76.02", KIM_REGION),
    ("aspirations.repeated", "GET"): Case("/aspirasi/berulang?wilayah=76.02", KIM_REGION),
    ("aspirations.export_items", "GET"): Case("/aspirasi/ekspor.csv", AUDIT_READERS),
    ("aspirations.export_performance", "GET"): Case("/aspirasi/kinerja/ekspor.xlsx", AUDIT_READERS),
    ("aspirations_api.AspirationPerformance", "GET"): Case("/api/v1/aspirations/performance", AUDIT_READERS),
    ("aspirations_api.AspirationPerformance", "GET", "76.02"): Case(
        "/api/v1/aspirations/performance?region=76.02", KIM_REGION),
    ("aspirations_api.AspirationRepeated", "GET"): Case("/api/v1/aspirations/repeated", AUDIT_READERS),

    # The public version of an answered item: its handlers publish and hide it; everyone reads it.
    ("aspirations.publish", "POST"): Case(lambda c: f"/aspirasi/{_answered(c)}/publikasi", KIM_REGION,
                                          data={"public_title": "Judul", "public_text": "Teks."}),
    ("aspirations.unpublish", "POST"): Case(lambda c: f"/aspirasi/{_published(c)}/tarik-publikasi", KIM_REGION,
                                            data={}),
    ("aspirations_api.AspirationPublication", "PUT"): Case(
        lambda c: f"/api/v1/aspirations/{_answered(c)}/publication", KIM_REGION,
        json={"public_title": "Judul", "public_text": "Teks."}),
    ("aspirations_api.AspirationPublication", "DELETE"): Case(
        lambda c: f"/api/v1/aspirations/{_published(c)}/publication", KIM_REGION),
    ("aspirations.public_index", "GET"): Case("/aspirasi/publik?wilayah=76.02", EVERYONE),
    ("aspirations.public_detail", "GET"): Case(lambda c: f"/aspirasi/publik/{_published(c)}", EVERYONE),
    ("aspirations_api.PublicAspirations", "GET"): Case("/api/v1/aspirations/public?region=76.02", EVERYONE),
    ("aspirations_api.PublicAspiration", "GET"): Case(lambda c: f"/api/v1/aspirations/public/{_published(c)}",
                                                      EVERYONE),
    # The offline outbox's evidence photos: only the item's author (here another member) sends them.
    ("aspirations_api.AspirationEvidence", "PUT"): Case(lambda c: f"/api/v1/aspirations/{c.aspiration.id}/photos/1",
                                                         frozenset()),
    # Klarifikasi hoaks: the KIM's members (the matrix item is no hoax: they are told so, 409/redirect).
    ("aspirations.clarify", "GET"): Case(lambda c: f"/aspirasi/{c.aspiration.id}/klarifikasi", ASPIRATION_MEMBERS),
    ("aspirations.clarify", "POST"): Case(lambda c: f"/aspirasi/{c.aspiration.id}/klarifikasi", ASPIRATION_MEMBERS,
                                          data={}),
    ("aspirations_api.AspirationClarification", "POST"): Case(
        lambda c: f"/api/v1/aspirations/{c.aspiration.id}/clarification", ASPIRATION_MEMBERS, json={}),
    ("audit.index", "GET"): Case("/audit", AUDIT_READERS),
    # Region code changes (issue 19): the directorate only; nothing waits here, so its POST is a 404.
    ("regionchanges.index", "GET"): Case("/wilayah/perubahan", frozenset({"direktorat"})),
    ("regionchanges.place", "POST"): Case("/wilayah/perubahan/tempatkan", frozenset({"direktorat"}),
                                          data={"reference": "kims", "item_id": "1", "new_code": "76.02.01.1003"}),
    ("audit_api.AuditLog", "GET"): Case("/api/v1/audit", AUDIT_READERS),
}


def test_every_route_has_a_declared_rule(app):
    declared = {key[:2] for key in MATRIX}
    existing = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert not existing - declared, f"routes without a rule in the permission matrix: {sorted(existing - declared)}"
    assert not declared - existing, f"rules for routes that no longer exist: {sorted(declared - existing)}"


def _campaign(pembina, status: str):
    from kim_platform.campaigns import services as campaigns

    today = clock.today()
    campaign = campaigns.create_campaign(pembina, {
        "title": "Kampanye matriks", "key_message": "Pesan kunci.", "targets": ["76.02"],
        "start_date": today.isoformat(), "end_date": today.isoformat()})
    campaigns.add_material(pembina, campaign, b"%PDF-1.4\ntrailer<<>>\n%%EOF\n", "jadwal.pdf")
    if status != "draft":
        campaigns.publish_campaign(pembina, campaign)
    return campaign


def _share_code(ctx: Ctx) -> str:
    """The matrix KIM's share link of the matrix campaign (made here, whatever the campaign's status)."""
    from kim_platform.campaigns.models import CampaignShareLink
    from kim_platform.campaigns.queries import share_link

    link = share_link(ctx.campaign.id, ctx.kim.id)
    if link is None:
        link = CampaignShareLink(campaign_id=ctx.campaign.id, kim_id=ctx.kim.id, code="matrks22")
        db.session.add(link)
        db.session.flush()
    return link.code

def _aspiration(author, kim):
    from kim_platform.aspirations.models import AspirationPhoto
    from kim_platform.aspirations.services import submit_aspiration

    item = submit_aspiration(author, kim, {"kind": "informasi", "topic": "bansos", "description": "Kapan cair?"})
    item.photos.append(AspirationPhoto(key=storage().save(b"RIFF", ".webp"), thumb_key=storage().save(b"RIFF", ".webp"),
                                       width=1, height=1))
    db.session.flush()
    return item


def _answered(ctx: Ctx) -> int:
    """The matrix aspiration, answered (by the system: the route under test is not the answer's)."""
    from kim_platform import permissions
    from kim_platform.aspirations.services import transition

    item = ctx.aspiration
    if item.state == "baru":
        transition(permissions.SYSTEM, item, "diverifikasi")
        transition(permissions.SYSTEM, item, "dijawab", {"answer": "Jawaban."})
    return item.id


def _published(ctx: Ctx) -> int:
    """The matrix aspiration, answered and published."""
    from kim_platform import permissions
    from kim_platform.aspirations.services import publish_aspiration

    _answered(ctx)
    if ctx.aspiration.published_at is None:
        publish_aspiration(permissions.SYSTEM, ctx.aspiration, {"public_title": "Judul", "public_text": "Teks."})
    return ctx.aspiration.id


def _context(make_user, make_kim, role: str, kim_status: str, activity_status: str,
             campaign_status: str = "published") -> Ctx:
    grant = ROLE_GRANTS.get(role)
    actor = None
    if role != "anonymous":
        actor = make_user(role=grant[0] if grant else None, scope=grant[1] if grant else None)
    target = make_user(name="Calon")
    appointed = make_user(name="Pembina Lama", role="pembina", scope="76.02")
    founder, other_member = make_user(name="Ketua"), make_user(name="Anggota Lain")
    members = [(founder, "ketua"), (other_member, "anggota")]
    if role in ("member", "kim_admin"):
        members.append((actor, "anggota" if role == "member" else "admin"))
    kim = make_kim(status=kim_status, members=members)
    kim.sk_file_key = storage().save(b"%PDF-1.4\ntrailer<<>>\n%%EOF\n", ".pdf")
    kim.logo_key = storage().save(b"RIFF", ".webp")
    activity = Activity(kim_id=kim.id, kim=kim, author_id=other_member.id, title="Kegiatan matriks",
                        activity_date=clock.today(), type="diskusi", desa_code=kim.desa_code, status=activity_status,
                        hidden_reason="Alasan." if activity_status == "hidden" else None)
    activity.photos.append(Photo(key=storage().save(b"RIFF", ".webp"), thumb_key=storage().save(b"RIFF", ".webp"),
                                 width=1, height=1))
    db.session.add(activity)
    invitation = invite_member(founder, kim, actor.email) if actor is not None else None
    foreign_invitation = invite_member(founder, kim, target.email)
    db.session.flush()
    return Ctx(actor=actor, target=target, appointed=appointed, kim=kim, other_member=other_member,
               activity=activity, invitation=invitation, foreign_invitation=foreign_invitation,
               campaign=_campaign(appointed, campaign_status),
               aspiration=_aspiration(other_member, kim) if kim_status == "verified" else None)


def _denied(response, is_api: bool, role: str) -> bool:
    # An object one may not see answers 404, as if it did not exist.
    if response.status_code == 404 and response.request.path.startswith(
            ("/kim/", "/api/v1/kims/", "/kegiatan/", "/api/v1/activities/", "/foto/", "/undangan/",
             "/api/v1/invitations/", "/berkas/", "/kampanye/", "/api/v1/campaigns/", "/p/",
             "/api/v1/health/kims/", "/aspirasi/", "/api/v1/aspirations/")):
        return True
    if role == "anonymous":
        if is_api:
            return response.status_code == 401
        return response.status_code == 302 and response.headers["Location"].startswith("/masuk")
    return response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: " ".join((r[1], r[0], *r[2:])))
def test_route_role(client, make_user, make_kim, route, role):
    endpoint, method = route[:2]
    case = MATRIX[route]
    ctx = _context(make_user, make_kim, role, case.kim_status, case.activity_status, case.campaign_status)
    path = case.path(ctx)
    is_api = path.startswith("/api/")
    headers = {}
    if ctx.actor is not None:
        token_headers = bearer(ctx.actor)  # also gives the actor a token of their own to revoke
        ctx.actor_token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == ctx.actor.id))
        path = case.path(ctx)
        if is_api:
            headers = token_headers
        else:
            login(client, ctx.actor)
    kwargs = {"headers": headers}
    if case.data is not None:
        kwargs["data"] = {**case.data, "csrf_token": csrf_token(client)}
    if case.json is not None:
        kwargs["json"] = case.json(ctx) if callable(case.json) else case.json
    response = client.open(path, method=method, **kwargs)
    response.close()
    if role in case.allowed:
        assert not _denied(response, is_api, role), f"{role} should be allowed: {response.status_code}"
        assert response.status_code not in (401, 403), f"{role} got {response.status_code}"
        assert response.status_code < 500
    else:
        assert _denied(response, is_api, role), f"{role} should be denied, got {response.status_code}"
    if endpoint in ("accounts.grant_role", "users_api.UserRoles"):
        granted = db.session.scalar(select(RoleGrant).where(RoleGrant.user_id == ctx.target.id))
        assert (granted is not None) == (role in case.allowed)
