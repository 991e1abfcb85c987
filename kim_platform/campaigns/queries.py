"""Reading campaigns: lists (keyset pages, no full counts), who a campaign targets, its notices,
its disseminations and its reach (exact, by one query)."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, exists, func, literal, not_, or_, select

from kim_platform import permissions
from kim_platform.activities.models import Activity, ActivityStatus
from kim_platform.campaigns.models import (
    PUBLISHED,
    Campaign,
    CampaignNotice,
    CampaignTarget,
    Dissemination,
)
from kim_platform.core import clock
from kim_platform.extensions import db
from kim_platform.kims.models import MANAGER_ROLES, Kim, KimStatus, Membership
from kim_platform.regions.codes import LEVEL_WIDTH, descendant_pattern, is_valid_code

MAX_PER_PAGE = 100


@dataclass
class Keyset:
    """One page of a list ordered by id, newest first, without a count of all rows."""
    items: list
    next_cursor: int | None
    per_page: int


def keyset(stmt, id_column, cursor: int | None, per_page: int) -> Keyset:
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    if cursor is not None:
        stmt = stmt.where(id_column < cursor)
    rows = list(db.session.scalars(stmt.order_by(id_column.desc()).limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return Keyset(items=rows, next_cursor=rows[-1].id if more and rows else None, per_page=per_page)


def get_campaign(campaign_id: int) -> Campaign | None:
    return db.session.get(Campaign, campaign_id) if 1 <= campaign_id < 2**63 else None


def _open_sql(today: date):
    """Published and running today: disseminations are logged and the KIMs see it."""
    return and_(Campaign.status == PUBLISHED, Campaign.start_on <= today, Campaign.end_on >= today)


def _code_in_targets_sql(code_column, campaign_id_column):
    """`code_column` (a KIM's desa) lies inside one of the campaign's target regions."""
    target = CampaignTarget.__table__.alias("t")
    return exists().where(target.c.campaign_id == campaign_id_column, or_(
        code_column == target.c.region_code, code_column.like(target.c.region_code.concat(".%"))))


def _bidang_sql(kim_bidang_column):
    return or_(func.cardinality(Campaign.target_bidang) == 0, Campaign.target_bidang.overlap(kim_bidang_column))


def kim_targeted_sql(kim=Kim):
    """The campaign (the Campaign entity of the query) targets `kim`: its region and its bidang."""
    return and_(_code_in_targets_sql(kim.desa_code, Campaign.id), _bidang_sql(kim.bidang))


def campaign_targets_kim(campaign: Campaign, kim) -> bool:
    """The predicate form of kim_targeted_sql, on loaded objects."""
    in_region = any(permissions.code_within(kim.desa_code, code) for code in campaign.target_codes)
    return in_region and (not campaign.target_bidang or bool(set(campaign.target_bidang) & set(kim.bidang or ())))


def campaign_list_query(viewer, region: str | None = None, active: bool | None = None, bidang: str | None = None):
    """Campaigns the viewer may see, filtered: `region` (campaigns whose targets overlap it: inside
    it or containing it), `active` (published and running today, or not), `bidang`."""
    stmt = select(Campaign).where(permissions.campaign_visible_sql(viewer))
    if region:
        target = CampaignTarget.__table__.alias("rt")
        stmt = stmt.where(exists().where(target.c.campaign_id == Campaign.id, or_(
            target.c.region_code == region, target.c.region_code.like(descendant_pattern(region)),
            literal(region).like(target.c.region_code.concat(".%")))))
    if active is not None:
        running = _open_sql(clock.today())
        stmt = stmt.where(running if active else not_(running))
    if bidang:
        stmt = stmt.where(or_(func.cardinality(Campaign.target_bidang) == 0, Campaign.target_bidang.contains([bidang])))
    return stmt


def campaign_page(viewer, cursor=None, per_page=20, **filters) -> Keyset:
    return keyset(campaign_list_query(viewer, **filters), Campaign.id, cursor, per_page)


def notice_recipients(campaign: Campaign) -> list[int]:
    """The ketua and admins (active accounts) of every verified KIM the campaign targets."""
    from kim_platform.accounts.models import User

    conditions = [Membership.role.in_(MANAGER_ROLES), Kim.status == KimStatus.VERIFIED, User.is_active,
                  _code_in_targets_sql(Kim.desa_code, literal(campaign.id))]
    if campaign.target_bidang:
        conditions.append(Kim.bidang.overlap(list(campaign.target_bidang)))
    return list(db.session.scalars(
        select(Membership.user_id).distinct()
        .join(Kim, Kim.id == Membership.kim_id).join(User, User.id == Membership.user_id)
        .where(*conditions).order_by(Membership.user_id)))


def pending_notices(user_ids=None) -> list[tuple[object, list[Campaign]]]:
    """People with notices not told yet (of campaigns still published), with those campaigns."""
    from kim_platform.accounts.models import User

    stmt = (select(User, Campaign).join(CampaignNotice, CampaignNotice.user_id == User.id)
            .join(Campaign, Campaign.id == CampaignNotice.campaign_id)
            .where(CampaignNotice.sent_on.is_(None), Campaign.status == PUBLISHED, User.is_active)
            .order_by(User.id, Campaign.id))
    if user_ids is not None:
        stmt = stmt.where(User.id.in_(list(user_ids)))
    grouped: dict[int, tuple[object, list[Campaign]]] = {}
    for user, campaign in db.session.execute(stmt):
        grouped.setdefault(user.id, (user, []))[1].append(campaign)
    return list(grouped.values())


def open_campaigns_for_user(user) -> list[tuple[Campaign, Kim]]:
    """Running campaigns that target a KIM of the user (any role), with that KIM: one query."""
    if not permissions.is_person(user):
        return []
    rows = db.session.execute(
        select(Campaign, Kim).join(Kim, kim_targeted_sql(Kim)).join(Membership, Membership.kim_id == Kim.id)
        .where(Membership.user_id == user.id, _open_sql(clock.today()))
        .order_by(Campaign.end_on, Campaign.id, Kim.name).limit(50))
    return [(row.Campaign, row.Kim) for row in rows]


def open_campaigns_for_kim(kim) -> list[Campaign]:
    """Running campaigns that target this KIM."""
    return list(db.session.scalars(
        select(Campaign).where(_open_sql(clock.today()), _code_in_targets_sql(literal(kim.desa_code), Campaign.id),
                               or_(func.cardinality(Campaign.target_bidang) == 0,
                                   Campaign.target_bidang.overlap(list(kim.bidang or []))))
        .order_by(Campaign.end_on, Campaign.id).limit(20)))


def _counted():
    """Disseminations that count: published, complete reports of public KIMs (what anyone sees)."""
    return and_(Activity.status == ActivityStatus.PUBLISHED, Activity.pending_action.is_(None),
                Kim.status.in_(permissions.PUBLIC_KIM_STATUSES))


@dataclass
class Reach:
    kims: int
    desa: int
    people: int
    reports: int


def reach(campaign: Campaign) -> Reach:
    """KIMs and desa reached, people reached offline and reports: exact, in one query."""
    row = db.session.execute(
        select(func.count(func.distinct(Activity.kim_id)), func.count(func.distinct(Activity.desa_code)),
               func.coalesce(func.sum(Activity.reach_offline), 0), func.count())
        .select_from(Dissemination).join(Activity, Activity.id == Dissemination.activity_id)
        .join(Kim, Kim.id == Activity.kim_id)
        .where(Dissemination.campaign_id == campaign.id, _counted())).one()
    return Reach(kims=row[0], desa=row[1], people=int(row[2]), reports=row[3])


def disseminations_query(viewer, campaign: Campaign):
    """The reports logged for the campaign that the viewer may see (the report visibility rule)."""
    return (select(Activity).join(Dissemination, Dissemination.activity_id == Activity.id)
            .join(Kim, Kim.id == Activity.kim_id)
            .where(Dissemination.campaign_id == campaign.id, permissions.activity_visible_sql(viewer)))


def dissemination_page(viewer, campaign: Campaign, cursor=None, per_page=20) -> Keyset:
    return keyset(disseminations_query(viewer, campaign), Activity.id, cursor, per_page)


def channels_of(activity_ids) -> dict[int, str]:
    """The channel of each dissemination report, in one query."""
    ids = list(activity_ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(Dissemination.activity_id, Dissemination.channel)
                                   .where(Dissemination.activity_id.in_(ids))).all())


def region_names(codes) -> dict[str, str]:
    from kim_platform.regions.models import Region

    codes = list(codes)
    if not codes:
        return {}
    return dict(db.session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all())


def my_targeted_kims(user, campaign: Campaign) -> list[Kim]:
    """The user's KIMs (any role) that the campaign targets: where "Log a dissemination" leads."""
    if not permissions.is_person(user):
        return []
    return list(db.session.scalars(
        select(Kim).join(Membership, Membership.kim_id == Kim.id).join(Campaign, Campaign.id == campaign.id)
        .where(Membership.user_id == user.id, kim_targeted_sql(Kim)).order_by(Kim.name)))


def material_by_key(key: str):
    """The campaign material stored under `key` (as the file or its thumbnail), or None."""
    from kim_platform.campaigns.models import CampaignMaterial

    return db.session.scalar(select(CampaignMaterial).where(
        or_(CampaignMaterial.key == key, CampaignMaterial.thumb_key == key)).limit(1))


# --- share links and their visits ---------------------------------------------------------------

def share_link(campaign_id: int, kim_id: int):
    """The share link of one KIM for one campaign, or None."""
    from kim_platform.campaigns.models import CampaignShareLink

    return db.session.scalar(select(CampaignShareLink).where(CampaignShareLink.campaign_id == campaign_id,
                                                             CampaignShareLink.kim_id == kim_id))


def share_links_of(campaign_id: int, kim_ids) -> dict[int, object]:
    """The share links of these KIMs for the campaign, by KIM id, in one query."""
    from kim_platform.campaigns.models import CampaignShareLink

    ids = list(kim_ids)
    if not ids:
        return {}
    return {link.kim_id: link for link in db.session.scalars(select(CampaignShareLink).where(
        CampaignShareLink.campaign_id == campaign_id, CampaignShareLink.kim_id.in_(ids)))}


def share_link_target(code: str):
    """(link_id, campaign_id, status) of the link with this code, or None: one indexed lookup.
    `status` is the campaign's stored status (a published campaign past its end still leads)."""
    from kim_platform.campaigns.models import CampaignShareLink

    return db.session.execute(
        select(CampaignShareLink.id.label("link_id"), CampaignShareLink.campaign_id, Campaign.status)
        .join(Campaign, Campaign.id == CampaignShareLink.campaign_id)
        .where(CampaignShareLink.code == code)).first()


def share_links_page(campaign: Campaign, kim_id: int | None = None, cursor=None, per_page=20) -> Keyset:
    """The campaign's share links with their counters, newest first (keyset pages), each with its KIM."""
    from sqlalchemy.orm import joinedload

    from kim_platform.campaigns.models import CampaignShareLink

    stmt = (select(CampaignShareLink).options(joinedload(CampaignShareLink.kim))
            .where(CampaignShareLink.campaign_id == campaign.id))
    if kim_id is not None:
        stmt = stmt.where(CampaignShareLink.kim_id == kim_id)
    return keyset(stmt, CampaignShareLink.id, cursor, per_page)


def share_visits_total(campaign_id: int) -> int:
    """Visits of all the campaign's share links (every counted request; bots and HEAD are not)."""
    from kim_platform.campaigns.models import CampaignShareLink

    return int(db.session.scalar(select(func.coalesce(func.sum(CampaignShareLink.visits), 0))
                                 .where(CampaignShareLink.campaign_id == campaign_id)))


# A region level as the width of its code: "76" provinsi, "76.02" kabupaten, "76.02.01" kecamatan,
# "76.02.01.2001" desa (regions.codes.LEVEL_WIDTH); the level names are accepted too.
SHARE_LEVEL_WIDTHS = tuple(LEVEL_WIDTH.values())


def _level_width(level) -> int:
    width = LEVEL_WIDTH.get(level) if isinstance(level, str) else level
    if isinstance(width, bool) or width not in SHARE_LEVEL_WIDTHS:
        raise ValueError(f"level must be one of {SHARE_LEVEL_WIDTHS} (or {tuple(LEVEL_WIDTH)}), not {level!r}")
    return width


def share_visits_by_region(campaign_id: int, level: int, parent: str | None = None,
                           unique: bool = False) -> dict[str, int]:
    """The campaign's share-link visits by region at `level` (the code width: 2, 5, 8 or 13, or
    the level's name), grouped by the prefix of each link's KIM's desa code; only inside `parent`
    when given (a code above `level`). Regions without visits are left out. `unique`: count the
    daily de-duplicated visitors instead of all visits. One statement, whatever the number of links."""
    from kim_platform.campaigns.models import CampaignShareLink

    width = _level_width(level)
    if parent is not None and (not is_valid_code(parent) or len(parent) >= width):
        raise ValueError(f"parent must be a region code above the level, not {parent!r}")
    counter = CampaignShareLink.visitors if unique else CampaignShareLink.visits
    region = func.left(Kim.desa_code, width)
    stmt = (select(region, func.sum(counter)).join(Kim, Kim.id == CampaignShareLink.kim_id)
            .where(CampaignShareLink.campaign_id == campaign_id).group_by(region).having(func.sum(counter) > 0))
    if parent is not None:
        stmt = stmt.where(Kim.desa_code.like(descendant_pattern(parent)))
    return {code: int(total) for code, total in db.session.execute(stmt)}
