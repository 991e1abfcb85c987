"""Who may do what: the one place that holds the rules.

Views, the API and the CLI ask here (`can(user, action, obj)` or the named functions);
templates ask through the `can` global. Region scopes are code prefixes: a pembina of
`76` covers `76.02`, `76.02.01` and `76.02.01.2001`.
"""
from kim_platform.activities.models import ActivityStatus
from kim_platform.campaigns.models import CampaignStatus
from kim_platform.kims.models import InvitationStatus, KimStatus
from kim_platform.regions.codes import descendant_pattern, is_valid_code, level_of


def is_authenticated(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def code_within(code: str | None, scope: str | None) -> bool:
    """True when `code` is `scope` itself or lies below it."""
    if not code or not scope:
        return False
    return code == scope or code.startswith(scope + ".")


def is_direktorat(user) -> bool:
    return is_authenticated(user) and user.is_direktorat


def pembina_scope(user) -> str | None:
    return user.pembina_scope if is_authenticated(user) else None


def in_scope(user, code: str | None) -> bool:
    """May `user` act as pembina/direktorat on something in region `code`?"""
    if is_direktorat(user):
        return True
    return code_within(code, pembina_scope(user))


def can_manage_roles(user) -> bool:
    """Direktorat, and pembina provinsi (they grant pembina kabupaten inside their province)."""
    if is_direktorat(user):
        return True
    scope = pembina_scope(user)
    return scope is not None and level_of(scope) == "provinsi"


def can_grant(user, role: str, scope_code: str | None) -> bool:
    """Direktorat grants anything; a pembina provinsi grants pembina of a kabupaten in it."""
    if not is_authenticated(user):
        return False
    if is_direktorat(user):
        return True
    if role != "pembina" or not scope_code or not is_valid_code(scope_code):
        return False
    own = pembina_scope(user)
    return (
        own is not None
        and level_of(own) == "provinsi"
        and level_of(scope_code) == "kabupaten"
        and code_within(scope_code, own)
    )


def can_revoke(user, grant) -> bool:
    """The same rule as granting, applied to the grant being taken away."""
    return can_grant(user, grant.role, grant.scope_code)


def user_directory_scope(user) -> str | None:
    """Whose accounts a role manager may list: None for the directorate (everyone), else the
    pembina provinsi's province, read as "people connected to it" (members of its KIMs, pembina
    inside it); see accounts.queries.search_users."""
    return None if is_direktorat(user) else pembina_scope(user)


def sees_full_emails(user) -> bool:
    """Only the directorate sees account emails in the user directory. Granting a role needs a
    name and a hint to tell namesakes apart, not the address: others get `b***@example.id`."""
    return is_direktorat(user)


def mask_email(email: str) -> str:
    local, _, domain = (email or "").partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def shown_email(viewer, email: str) -> str:
    """An account's email as `viewer` may see it in the user directory."""
    return email if sees_full_emails(viewer) else mask_email(email)


def can_view_audit(user, scope_code: str | None) -> bool:
    """Direktorat reads every entry; a pembina the entries of their own region."""
    if is_direktorat(user):
        return True
    return code_within(scope_code, pembina_scope(user))


# --- KIM ---------------------------------------------------------------------------

PUBLIC_KIM_STATUSES = KimStatus.PUBLIC  # verified and inactive KIMs have a public profile


def kim_role(user, kim) -> str | None:
    """The user's role in this KIM (ketua, admin, anggota) or None."""
    if not is_authenticated(user) or kim is None:
        return None
    for membership in kim.memberships:
        if membership.user_id == user.id:
            return membership.role
    return None


def is_kim_manager(user, kim) -> bool:
    from kim_platform.kims.models import MANAGER_ROLES

    return kim_role(user, kim) in MANAGER_ROLES


def can_view_kim(user, kim) -> bool:
    """Verified and inactive KIMs are public; the others for members and pembina (see
    `kim_visible`, the one rule that lists and tiles use too)."""
    return kim_visible(user, kim)


def can_see_private_kim_data(user, kim) -> bool:
    """SK scan, join code, members' contacts: members and the region's pembina."""
    return kim_role(user, kim) is not None or in_scope(user, kim.desa_code)


def sees_only_public_data(user) -> bool:
    """True when every KIM and report `user` may see is shown in its public form, without asking
    which: `can_see_private_kim_data` is False for every KIM and only published reports are
    visible (`activity_grounds`: no hidden report, so no hidden reason), as for a viewer who is
    not logged in (nobody's member, no pembina scope). The public's fast answers (KIM detail and
    list, report feed) are taken only then."""
    return not is_authenticated(user)


def can_edit_kim(user, kim) -> bool:
    """KIM admins, and the pembina who register and map the KIMs of their region."""
    return is_kim_manager(user, kim) or in_scope(user, kim.desa_code)


def can_manage_members(user, kim) -> bool:
    return is_kim_manager(user, kim) or is_direktorat(user)


def can_remove_member(user, membership) -> bool:
    """Anyone may leave a KIM; removing someone else takes its ketua/admins (or the directorate)."""
    return (is_authenticated(user) and membership.user_id == user.id) or can_manage_members(user, membership.kim)


def can_answer_invitation(user, invitation) -> bool:
    """Only the verified owner of the invited address accepts or declines (others get a 404)."""
    return (is_authenticated(user) and getattr(user, "email_verified_at", None) is not None
            and user.email == invitation.email)


def can_submit_kim(user, kim) -> bool:
    return is_kim_manager(user, kim) or in_scope(user, kim.desa_code)


def can_verify_kim(user, kim) -> bool:
    """Verification belongs to the pembina of the KIM's region (and the directorate)."""
    return in_scope(user, kim.desa_code)


def can_deactivate_kim(user, kim) -> bool:
    return is_kim_manager(user, kim) or in_scope(user, kim.desa_code)


# --- KIM health (issue 19) ---------------------------------------------------------------

def can_view_attention(user) -> bool:
    """"Perlu perhatian": the directorate (every KIM) and each pembina (the KIMs of their scope)."""
    return is_direktorat(user) or pembina_scope(user) is not None


def can_follow_up_kim(user, kim) -> bool:
    """Note "sudah dihubungi" on a KIM: the pembina of its region (and the directorate)."""
    return in_scope(user, kim.desa_code)


def can_confirm_kim_data(user, kim) -> bool:
    """"Data masih benar": the KIM's ketua and admins, whose data it is."""
    return is_kim_manager(user, kim)


# --- activity reports ------------------------------------------------------------------

def can_report_for(user, kim) -> bool:
    """Only members of the KIM write its reports (the directorate may too, for support)."""
    return kim_role(user, kim) is not None or is_direktorat(user)


def is_current_author(user, activity) -> bool:
    """The author while still a member of the report's KIM: rights follow membership, so a
    member who leaves (or is removed) no longer edits, deletes or sees their hidden reports."""
    return is_authenticated(user) and activity.author_id == user.id and kim_role(user, activity.kim) is not None


def can_edit_activity(user, activity) -> bool:
    """The author (a current member) and the KIM's ketua/admins edit and delete."""
    if not is_authenticated(user):
        return False
    return is_current_author(user, activity) or is_kim_manager(user, activity.kim) or is_direktorat(user)


def can_moderate_activity(user, activity) -> bool:
    """Pembina of the place where it happened, or of the KIM's region; the directorate."""
    return in_scope(user, activity.desa_code) or in_scope(user, activity.kim.desa_code)


def can_view_activity(user, activity) -> bool:
    """Published reports of public KIMs are public; the rest for the KIM and its pembina (see
    `activity_visible`, the one rule that feeds use too)."""
    return activity_visible(user, activity)


# --- visibility: one rule per entity, two forms ---------------------------------------
#
# Who may see a KIM, a report or a stored file is written once, as the *grounds* a viewer has
# (any one suffices). The same grounds answer "may this viewer see this object" (a profile, a
# detail page, a file) in Python and "which objects may this viewer see" (lists, feeds, tiles,
# exports, the duplicate guard) as a SQL boolean, so the two can never disagree; the property
# test in tests/test_visibility.py checks them against each other for every status and role.
#
#   KIM:      a public status (verified, inactive) | a member of it | pembina of its region | direktorat
#   report:   published (with all its photos) by a KIM of public status  | a member of its KIM
#             | pembina of the report's place or of its KIM's region | direktorat
#   file:     a logo follows its KIM, a photo its report; an SK scan is private KIM data.
#
# Inactive KIMs keep a public profile (marked "inactive"), their published reports stay public;
# lists leave them out unless asked (kims.queries.DEFAULT_HIDDEN_STATUSES), the map draws them
# grey, coverage never counts them as covering or active (coverage.queries).

ANY = "any"          # everything (the directorate)
STATUS = "status"    # public by the object's own status
MEMBER = "member"    # a member of the KIM (of the report's KIM)
REGION = "region"    # pembina whose scope holds the place


def kim_grounds(viewer) -> list[tuple[str, object]]:
    """The KIM visibility rule: why `viewer` may see a KIM (any ground suffices)."""
    if is_direktorat(viewer):
        return [(ANY, None)]
    grounds: list[tuple[str, object]] = [(STATUS, PUBLIC_KIM_STATUSES)]
    if is_authenticated(viewer):
        grounds.append((MEMBER, viewer.id))
    if pembina_scope(viewer):
        grounds.append((REGION, pembina_scope(viewer)))
    return grounds


def activity_grounds(viewer) -> list[tuple[str, object]]:
    """The report visibility rule: why `viewer` may see a report (any ground suffices)."""
    if is_direktorat(viewer):
        return [(ANY, None)]
    grounds: list[tuple[str, object]] = [(STATUS, (ActivityStatus.PUBLISHED, PUBLIC_KIM_STATUSES))]
    if is_authenticated(viewer):
        grounds.append((MEMBER, viewer.id))
    if pembina_scope(viewer):
        grounds.append((REGION, pembina_scope(viewer)))
    return grounds


def _is_member(user_id: int, kim) -> bool:
    return any(m.user_id == user_id for m in kim.memberships)


def kim_visible(viewer, kim) -> bool:
    """May `viewer` see this KIM (its profile, logo, API record)? The predicate form."""
    for kind, arg in kim_grounds(viewer):
        if (kind == ANY or (kind == STATUS and kim.status in arg)
                or (kind == MEMBER and _is_member(arg, kim))
                or (kind == REGION and code_within(kim.desa_code, arg))):
            return True
    return False


def activity_visible(viewer, activity) -> bool:
    """May `viewer` see this report (its page, photos, API record)? The predicate form."""
    kim = activity.kim
    for kind, arg in activity_grounds(viewer):
        if kind == ANY:
            return True
        if kind == STATUS and activity.status == arg[0] and kim.status in arg[1] and activity.pending_action is None:
            return True
        if kind == MEMBER and _is_member(arg, kim):
            return True
        if kind == REGION and (code_within(activity.desa_code, arg) or code_within(kim.desa_code, arg)):
            return True
    return False


def _sql_within(column, scope: str):
    from sqlalchemy import or_

    return or_(column == scope, column.like(descendant_pattern(scope)))


def _sql_member(kim_id_column, user_id: int):
    from sqlalchemy import select

    from kim_platform.kims.models import Membership

    # IN, not a correlated EXISTS: the clause also compiles on its own (the tiles' raw SQL).
    return kim_id_column.in_(select(Membership.kim_id).where(Membership.user_id == user_id))


def kim_visible_sql(viewer, kim=None):
    """Which KIMs `viewer` may see, as a SQL boolean over `kim` (the Kim entity or an alias of
    it): the list form of `kim_visible`."""
    from sqlalchemy import or_, true

    from kim_platform.kims.models import Kim

    kim = kim if kim is not None else Kim
    clauses = []
    for kind, arg in kim_grounds(viewer):
        if kind == ANY:
            return true()
        if kind == STATUS:
            clauses.append(kim.status.in_(arg))
        elif kind == MEMBER:
            clauses.append(_sql_member(kim.id, arg))
        elif kind == REGION:
            clauses.append(_sql_within(kim.desa_code, arg))
    return or_(*clauses)


def activity_visible_sql(viewer, activity=None, kim=None):
    """Which reports `viewer` may see, as a SQL boolean over `activity` joined to its `kim`
    (the query must join them): the list form of `activity_visible`."""
    from sqlalchemy import and_, or_, true

    from kim_platform.activities.models import Activity
    from kim_platform.kims.models import Kim

    activity = activity if activity is not None else Activity
    kim = kim if kim is not None else Kim
    clauses = []
    for kind, arg in activity_grounds(viewer):
        if kind == ANY:
            return true()
        if kind == STATUS:
            # A report still waiting for photos sent one by one is never public, whatever its status.
            clauses.append(and_(activity.status == arg[0], kim.status.in_(arg[1]), activity.pending_action.is_(None)))
        elif kind == MEMBER:
            clauses.append(_sql_member(activity.kim_id, arg))
        elif kind == REGION:
            clauses.append(or_(_sql_within(activity.desa_code, arg), _sql_within(kim.desa_code, arg)))
    return or_(*clauses)


def has_private_memberships(viewer) -> bool:
    """Does `viewer` belong to a KIM of non-public status (so the member ground shows them more
    than the public sees)? One index lookup; answers shared between viewers depend on it."""
    if not is_authenticated(viewer):
        return False
    from sqlalchemy import exists, select

    from kim_platform.extensions import db
    from kim_platform.kims.models import Kim, Membership

    return bool(db.session.scalar(select(exists().where(
        Membership.user_id == viewer.id, Membership.kim_id == Kim.id, Kim.status.not_in(PUBLIC_KIM_STATUSES)))))


def stored_file_visible(viewer, kind: str, owner) -> bool:
    """May `viewer` fetch a stored file of `kind` belonging to `owner` (a KIM, a report)?
    A logo follows its KIM, a photo its report; an SK scan is private KIM data."""
    if kind == "logo":
        return kim_visible(viewer, owner)
    if kind == "photo":
        return activity_visible(viewer, owner)
    if kind == "sk":
        return is_authenticated(viewer) and can_see_private_kim_data(viewer, owner)
    return False


def stored_file_public(kind: str, owner) -> bool:
    """Whether the file may sit in shared caches: exactly when an anonymous visitor may see it."""
    return stored_file_visible(None, kind, owner)


def stored_file_access(viewer, kind: str, owner) -> str | None:
    """How a stored file is served: "public" when anyone may fetch it, "private" when only
    `viewer` (a callable giving the viewer, e.g. `lambda: current_user`) may, None when not.

    A public file is decided without asking who is looking, so its answer does not depend on
    the session (no `Vary: Cookie`) and the browser keeps it across a changed session cookie."""
    if stored_file_public(kind, owner):
        return "public"
    return "private" if stored_file_visible(viewer(), kind, owner) else None


# --- dissemination campaigns (issue 17) ---------------------------------------------------
#
#   campaign: published or closed (public) | managed by the viewer | direktorat
#   managed:  the directorate, or a pembina whose scope holds the campaign's owner scope (the
#             region of whoever created it: the creator while still its pembina, and the pembina above)

PUBLIC_CAMPAIGN_STATUSES = CampaignStatus.PUBLIC


def can_create_campaign(actor) -> bool:
    """The directorate (anywhere) and every pembina (inside their scope, checked per target)."""
    return is_direktorat(actor) or pembina_scope(actor) is not None


def can_target_region(actor, code: str) -> bool:
    """May `actor` send a campaign to the KIMs of region `code`? Inside their own scope only."""
    return in_scope(actor, code)


def can_manage_campaign(actor, campaign) -> bool:
    """Edit, publish, close, upload materials: the directorate, and the pembina of the campaign's
    owner region or above (a national campaign: the directorate only)."""
    if is_direktorat(actor):
        return True
    return campaign.owner_scope is not None and code_within(campaign.owner_scope, pembina_scope(actor))


def campaign_grounds(viewer) -> list[tuple[str, object]]:
    """The campaign visibility rule: why `viewer` may see a campaign (any ground suffices)."""
    if is_direktorat(viewer):
        return [(ANY, None)]
    grounds: list[tuple[str, object]] = [(STATUS, PUBLIC_CAMPAIGN_STATUSES)]
    if pembina_scope(viewer):
        grounds.append((REGION, pembina_scope(viewer)))
    return grounds


def campaign_visible(viewer, campaign) -> bool:
    """May `viewer` see this campaign (its page, API record, materials)? The predicate form."""
    for kind, arg in campaign_grounds(viewer):
        if (kind == ANY or (kind == STATUS and campaign.status in arg)
                or (kind == REGION and code_within(campaign.owner_scope, arg))):
            return True
    return False


def campaign_visible_sql(viewer, campaign=None):
    """Which campaigns `viewer` may see, as a SQL boolean: the list form of `campaign_visible`."""
    from sqlalchemy import or_, true

    from kim_platform.campaigns.models import Campaign

    campaign = campaign if campaign is not None else Campaign
    clauses = []
    for kind, arg in campaign_grounds(viewer):
        if kind == ANY:
            return true()
        if kind == STATUS:
            clauses.append(campaign.status.in_(arg))
        elif kind == REGION:
            clauses.append(_sql_within(campaign.owner_scope, arg))
    return or_(*clauses)


def can_view_campaign_reach(actor, campaign) -> bool:
    """The reach dashboard, its exports and API: whoever manages the campaign (the pembina of its
    owner region and above, the directorate). Figures by region are not public."""
    return can_manage_campaign(actor, campaign)


def can_view_national_reach(actor) -> bool:
    """All campaigns' reach side by side: the directorate."""
    return is_direktorat(actor)


def can_log_dissemination(actor, kim) -> bool:
    """A dissemination is a report: whoever writes the KIM's reports logs it."""
    return can_write_report(actor, kim)


def can_share_campaign(actor, kim) -> bool:
    """A KIM's share link and poster of a campaign: its members (any role), people only. Whether
    the campaign targets the KIM is the service's check (403 with its own message)."""
    return is_person(actor) and kim_role(actor, kim) is not None



# --- aspirations and hoax reports (issue 18) -----------------------------------------------
#
#   item:     a member of the reporting KIM | a pembina whose scope holds the handler scope (the
#             handler and the province above) | direktorat. Anyone else gets 404, and lists and
#             counts that are not public never include the item.
#   handles:  the same pembina and the directorate (transitions marked "handler").
#   personal: the resident's name and contact: the reporting KIM's members and the handling
#             pembina (scope == handler scope; the directorate when it is the handler).
#
# The SQL form takes the Aspiration entity from its caller (permissions imports no aspirations).

def can_submit_aspiration(actor, kim) -> bool:
    """A member of the KIM (a person) records what its residents raised, once the region's pembina
    has verified the KIM: a group nobody has checked does not send items into a pembina's queue."""
    return is_person(actor) and kim_role(actor, kim) is not None and kim.status == KimStatus.VERIFIED


def aspiration_grounds(viewer) -> list[tuple[str, object]]:
    if is_direktorat(viewer):
        return [(ANY, None)]
    grounds: list[tuple[str, object]] = []
    if is_authenticated(viewer):
        grounds.append((MEMBER, viewer.id))
    if pembina_scope(viewer):
        grounds.append((REGION, pembina_scope(viewer)))
    return grounds


def aspiration_visible(viewer, item) -> bool:
    """May `viewer` see this item (its page, API record, evidence)? The predicate form."""
    for kind, arg in aspiration_grounds(viewer):
        if (kind == ANY or (kind == MEMBER and _is_member(arg, item.kim))
                or (kind == REGION and code_within(item.handler_scope, arg))):
            return True
    return False


def aspiration_visible_sql(viewer, entity):
    """Which items `viewer` may see, as a SQL boolean over `entity` (the Aspiration model)."""
    from sqlalchemy import false, or_, true

    clauses = []
    for kind, arg in aspiration_grounds(viewer):
        if kind == ANY:
            return true()
        if kind == MEMBER:
            clauses.append(_sql_member(entity.kim_id, arg))
        elif kind == REGION:
            clauses.append(_sql_within(entity.handler_scope, arg))
    return or_(*clauses) if clauses else false()


def can_handle_aspiration(actor, item) -> bool:
    """Triage, forward, answer, transfer: the handler scope's pembina, the pembina above, the directorate."""
    if is_direktorat(actor):
        return True
    return item.handler_scope is not None and code_within(item.handler_scope, pembina_scope(actor))


def can_see_aspiration_personal(viewer, item) -> bool:
    """The resident's name and contact: the reporting KIM's members and the handling pembina."""
    if not is_authenticated(viewer):
        return False
    if is_person(viewer) and _is_member(viewer.id, item.kim):
        return True
    if item.handler_scope is None:
        return is_direktorat(viewer)
    return pembina_scope(viewer) == item.handler_scope


def can_transition_aspiration(actor, item, by: str) -> bool:
    """An action of the state machine (aspirations.models.TRANSITIONS), by who performs it: the
    handler, or a member of the reporting KIM (a person: "sudah disampaikan ke warga")."""
    if by == "kim":
        return is_person(actor) and _is_member(actor.id, item.kim)
    return can_handle_aspiration(actor, item)


# Oversight (time to answer per region, repeated topics, exports): pembina and the directorate,
# for regions inside their scope; the figures count only items whose handler scope lies inside
# the viewer's scope (the queue's region ground), so no count includes an item they may not see.

def can_oversee_aspirations(user) -> bool:
    return is_direktorat(user) or pembina_scope(user) is not None


def aspiration_oversight_region_allowed(user, code: str | None) -> bool:
    """May `user` look at the figures of region `code` (None: Indonesia)?"""
    if is_direktorat(user):
        return True
    return code is not None and code_within(code, pembina_scope(user))


def aspiration_overseen_sql(viewer, entity):
    """The items an oversight figure of `viewer` counts, as SQL over `entity` (the Aspiration model)."""
    from sqlalchemy import false, true

    if is_direktorat(viewer):
        return true()
    scope = pembina_scope(viewer)
    return _sql_within(entity.handler_scope, scope) if scope else false()


def can_publish_aspiration(actor, item) -> bool:
    """Publishing an answered item's public version, and hiding it again: whoever may answer it
    (the handler's actions: the handler scope's pembina, those above, the directorate)."""
    return can_transition_aspiration(actor, item, "handler")


def can_add_aspiration_evidence(actor, item) -> bool:
    """Evidence photos sent one by one after the item (the offline outbox): its author, while still
    a member of the reporting KIM."""
    return is_person(actor) and item.author_id == actor.id and _is_member(actor.id, item.kim)


def can_publish_clarification(actor, item) -> bool:
    """The klarifikasi hoaks report of an answered hoax item: a member of the reporting KIM (it is
    that KIM's activity report, so one who may report for it)."""
    return is_person(actor) and _is_member(actor.id, item.kim) and can_write_report(actor, item.kim)



ACTIONS = {
    "users.manage": lambda user, obj: can_manage_roles(user),
    "users.deactivate": lambda user, obj: is_direktorat(user),
    "role.grant": lambda user, obj: can_grant(user, *obj),
    "role.revoke": lambda user, obj: can_revoke(user, obj),
    "audit.view": lambda user, obj: is_direktorat(user) or pembina_scope(user) is not None,
    "region.act": lambda user, obj: in_scope(user, obj),
    "kim.create": lambda user, obj: is_authenticated(user),
    "kim.view": lambda user, obj: can_view_kim(user, obj),
    "kim.private": lambda user, obj: can_see_private_kim_data(user, obj),
    "kim.edit": lambda user, obj: can_edit_kim(user, obj),
    "kim.members": lambda user, obj: can_manage_members(user, obj),
    "kim.member_remove": lambda user, obj: can_remove_member(user, obj),
    "kim.invitation_answer": lambda user, obj: can_answer_invitation(user, obj),
    "kim.submit": lambda user, obj: can_submit_kim(user, obj),
    "kim.verify": lambda user, obj: can_verify_kim(user, obj),
    "kim.deactivate": lambda user, obj: can_deactivate_kim(user, obj),
    "kim.queue": lambda user, obj: is_direktorat(user) or pembina_scope(user) is not None,
    "bidang.manage": lambda user, obj: is_direktorat(user),
    "activity.create": lambda user, obj: can_report_for(user, obj),
    "activity.view": lambda user, obj: can_view_activity(user, obj),
    "activity.edit": lambda user, obj: can_edit_activity(user, obj),
    "activity.moderate": lambda user, obj: can_moderate_activity(user, obj),
    "activity.moderation_queue": lambda user, obj: is_direktorat(user) or pembina_scope(user) is not None,
    # The KIMs whose teladan score fell most: for those who foster them (their own region only).
    "teladan.watch": lambda user, obj: is_direktorat(user) or pembina_scope(user) is not None,
    "health.attention": lambda user, obj: can_view_attention(user),
    "health.follow_up": lambda user, obj: can_follow_up_kim(user, obj),
    "health.confirm": lambda user, obj: can_confirm_kim_data(user, obj),
    "campaign.create": lambda user, obj: can_create_campaign(user),
    "campaign.view": lambda user, obj: campaign_visible(user, obj),
    "campaign.manage": lambda user, obj: can_manage_campaign(user, obj),
    "campaign.share": lambda user, obj: can_share_campaign(user, obj),

    "campaign.reach": lambda user, obj: can_view_campaign_reach(user, obj),
    "campaign.national": lambda user, obj: can_view_national_reach(user),

    # The history of region codes and the items a decree left to place by hand (issue 19).
    "regions.changes": lambda user, obj: can_manage_region_changes(user),

    "aspiration.create": lambda user, obj: can_submit_aspiration(user, obj),
    "aspiration.view": lambda user, obj: aspiration_visible(user, obj),
    "aspiration.handle": lambda user, obj: can_handle_aspiration(user, obj),
    "aspiration.personal": lambda user, obj: can_see_aspiration_personal(user, obj),
    "aspiration.publish": lambda user, obj: can_publish_aspiration(user, obj),
    "aspiration.evidence": lambda user, obj: can_add_aspiration_evidence(user, obj),
    "aspiration.clarify": lambda user, obj: can_publish_clarification(user, obj),
    # The queue: pembina and the directorate; KIM members see their KIMs' items in the same list.
    "aspiration.queue": lambda user, obj: is_authenticated(user),
    # Time to answer per region, repeated topics, exports: pembina and the directorate.
    "aspiration.oversight": lambda user, obj: can_oversee_aspirations(user),
}


def can(user, action: str, obj=None) -> bool:
    """Generic entry point; unknown actions are refused, never allowed."""
    rule = ACTIONS.get(action)
    return bool(rule and rule(user, obj))


# --- the acting user inside the services --------------------------------------------------
# Every service that changes state takes the acting user first and asks here itself, so a
# page, an API route, a CLI command and a job cannot disagree; views and the API only
# translate the refusal (tests/test_service_permissions.py holds the matrix of every write).


class SystemActor:
    """The command line or a job acting with the directorate's authority, where no person acts.

    Passed explicitly as `permissions.SYSTEM` (e.g. `flask users create-admin`, which bootstraps
    the first directorate account). It is never a person: it registers no KIM, writes no report,
    joins nothing and holds no account. `None` is an anonymous visitor and is refused."""

    id = None
    name = "system"
    email = None
    email_verified_at = None
    is_authenticated = True
    is_active = True
    is_direktorat = True
    pembina_scope = None
    memberships = ()

    def grant(self, role):
        return None

    def __repr__(self) -> str:
        return "<system actor>"


SYSTEM = SystemActor()


def is_system(actor) -> bool:
    return actor is SYSTEM


def is_person(actor) -> bool:
    """A logged-in account, not the system actor: one who may become a member or an author."""
    return is_authenticated(actor) and not is_system(actor)


def refusal(allowed: bool, visible: bool = True) -> int | None:
    """None when the write is allowed; else the status to answer: 404 when the object must not
    be revealed to the actor (what its routes answer), 403 when it may be seen but not changed."""
    if allowed:
        return None
    return 403 if visible else 404


def can_register_kim(actor) -> bool:
    """Any person registers a KIM (and becomes its ketua)."""
    return is_person(actor)


def can_add_member(actor, kim, user, role: str, invitation=None, join_code: str | None = None, now=None) -> bool:
    """Nobody becomes a member without consent: a person adds themself, with an open invitation
    of this KIM for this role or with the KIM's join code; the system actor adds anyone.
    (KIM managers invite, they do not add.)"""
    if is_system(actor):
        return True
    if not is_person(actor) or user is None or getattr(user, "id", None) != actor.id:
        return False
    if invitation is not None:
        return (invitation.kim_id == kim.id and invitation.role == role
                and invitation.status == InvitationStatus.PENDING
                and now is not None and invitation.expires_at > now and can_answer_invitation(actor, invitation))
    from kim_platform.kims.models import ANGGOTA

    return bool(join_code) and join_code == kim.join_code and role == ANGGOTA


def can_write_report(actor, kim) -> bool:
    """A person who may report for the KIM (the report has an author)."""
    return is_person(actor) and can_report_for(actor, kim)


def can_set_active(actor) -> bool:
    """The directorate (de)activates accounts (its own is refused by the service: 409)."""
    return is_direktorat(actor)


def acts_for_own_account(actor) -> bool:
    """Own-account operations (profile, password, API tokens) need a person."""
    return is_person(actor)


def can_create_bidang(actor) -> bool:
    return is_direktorat(actor)


def can_manage_region_changes(actor) -> bool:
    """A new Kepmendagri is applied (CLI: the system actor) and its waiting items placed by the
    directorate only: a re-coding crosses every pembina's region."""
    return is_direktorat(actor)
