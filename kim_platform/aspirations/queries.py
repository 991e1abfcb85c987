"""Reading aspirations: routing (who handles a desa), the list every viewer may see (overdue
first, keyset pages), one item, its history, and counts inside the viewer's scope only."""
import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import case, extract, func, literal, or_, select, tuple_
from sqlalchemy.orm import selectinload

from kim_platform import permissions
from kim_platform.aspirations.models import HANDLER_STATES, Aspiration, AspirationEvent, AspirationPhoto
from kim_platform.core.clock import utcnow
from kim_platform.extensions import db
from kim_platform.kims.models import Kim
from kim_platform.regions.codes import descendant_pattern, kabupaten_of, province_of

MAX_PER_PAGE = 100
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)


def active_pembina_scopes(codes: list[str]) -> set[str]:
    """Which of these region codes have a pembina with an active account (one query)."""
    from kim_platform.accounts.models import RoleGrant, User

    if not codes:
        return set()
    return set(db.session.scalars(
        select(RoleGrant.scope_code).join(User, User.id == RoleGrant.user_id)
        .where(RoleGrant.role == "pembina", RoleGrant.scope_code.in_(codes), User.is_active).distinct()))


def handler_scope_for(code: str) -> str | None:
    """The handler of a place: its kabupaten/kota if it has an active pembina, else its province's,
    else the directorate (None). `code` may be a desa, a kabupaten or a province."""
    candidates = [kabupaten_of(code), province_of(code)] if len(code) >= 5 else [province_of(code)]
    present = active_pembina_scopes(candidates)
    return next((c for c in candidates if c in present), None)


def get_aspiration(item_id: int) -> Aspiration | None:
    return db.session.get(Aspiration, item_id) if 1 <= item_id < 2**63 else None


def photo_by_key(key: str) -> AspirationPhoto | None:
    return db.session.scalar(select(AspirationPhoto).where(or_(AspirationPhoto.key == key,
                                                               AspirationPhoto.thumb_key == key)))


def history(item: Aspiration) -> list[AspirationEvent]:
    return list(db.session.scalars(select(AspirationEvent).options(selectinload(AspirationEvent.actor))
                                   .where(AspirationEvent.aspiration_id == item.id).order_by(AspirationEvent.id)))


def _overdue_sql(now: datetime):
    return Aspiration.state.in_(HANDLER_STATES) & (Aspiration.due_at < now)


def list_query(viewer, kind=None, state=None, overdue=None, region=None, kim_id=None, topic=None, now=None):
    """Items `viewer` may see, filtered; `region` matches the item's desa by code prefix."""
    now = now or utcnow()
    stmt = select(Aspiration).where(permissions.aspiration_visible_sql(viewer, Aspiration))
    if kind:
        stmt = stmt.where(Aspiration.kind == kind)
    if topic:
        stmt = stmt.where(Aspiration.topic == topic)
    if state:
        stmt = stmt.where(Aspiration.state == state)
    if overdue is not None:
        stmt = stmt.where(_overdue_sql(now) if overdue else ~_overdue_sql(now))
    if region:
        stmt = stmt.where(or_(Aspiration.desa_code == region, Aspiration.desa_code.like(descendant_pattern(region))))
    if kim_id:
        stmt = stmt.where(Aspiration.kim_id == kim_id)
    return stmt


@dataclass
class Keyset:
    items: list
    next_cursor: str | None
    per_page: int


def _sort_key(now: datetime):
    """Overdue first (the most overdue first), then the nearest deadline, then items without one."""
    rank = case((_overdue_sql(now), 0), else_=1)
    due = func.coalesce(Aspiration.due_at, literal(FAR_FUTURE))
    return rank, due, Aspiration.id


def encode_cursor(rank: int, due: datetime, item_id: int) -> str:
    raw = f"{rank}|{due.astimezone(timezone.utc).isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, int] | None:
    """The position a cursor stands for, or None when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        rank, due, item_id = raw.split("|")
        moment = datetime.fromisoformat(due)
        if moment.tzinfo is None:
            return None
        # PostgreSQL takes offsets up to 15 h only: normalise so no crafted offset reaches it.
        position = (int(rank), moment.astimezone(timezone.utc), int(item_id))
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        return None
    if position[0] not in (0, 1) or not 1 <= position[2] < 2**63:
        return None
    return position


def aspiration_page(viewer, cursor: str | None = None, per_page: int = 20, now=None, **filters) -> Keyset:
    """One keyset page, overdue first; `cursor` is the previous page's next_cursor."""
    now = now or utcnow()
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    rank, due, ident = _sort_key(now)
    stmt = list_query(viewer, now=now, **filters)
    position = decode_cursor(cursor) if cursor else None
    if position is not None:
        stmt = stmt.where(tuple_(rank, due, ident) > tuple_(literal(position[0]), literal(position[1]),
                                                            literal(position[2])))
    # What serialising a page reads (the KIM and its members for the personal-data rule, the photos),
    # loaded for the whole page at once: no query per item.
    stmt = stmt.options(selectinload(Aspiration.kim).selectinload(Kim.memberships), selectinload(Aspiration.photos))
    rows = list(db.session.execute(stmt.add_columns(rank, due).order_by(rank, due, ident).limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    next_cursor = encode_cursor(rows[-1][1], rows[-1][2], rows[-1][0].id) if more and rows else None
    return Keyset(items=[row[0] for row in rows], next_cursor=next_cursor, per_page=per_page)


def counts_by_state(viewer, now=None, **filters) -> dict:
    """Counts by state and overdue, of items the viewer may see only (never beyond the scope)."""
    now = now or utcnow()
    sub = list_query(viewer, now=now, **filters).subquery()
    rows = db.session.execute(select(sub.c.state, func.count(), func.count().filter(
        sub.c.state.in_(HANDLER_STATES) & (sub.c.due_at < now))).group_by(sub.c.state))
    states, overdue = {}, 0
    for state, count, late in rows:
        states[state] = count
        overdue += late
    return {"states": states, "overdue": overdue, "total": sum(states.values())}


def kim_items(viewer, kim, limit: int = 5) -> list[Aspiration]:
    """The KIM's newest items the viewer may see (a panel)."""
    return list(db.session.scalars(list_query(viewer, kim_id=kim.id).order_by(Aspiration.id.desc()).limit(limit)))


def items_of_my_kims(user, limit: int = 10) -> list[Aspiration]:
    """Newest items of the KIMs `user` belongs to (Akun saya)."""
    from kim_platform.kims.models import Membership

    return list(db.session.scalars(
        select(Aspiration).options(selectinload(Aspiration.kim))
        .where(Aspiration.kim_id.in_(select(Membership.kim_id).where(Membership.user_id == user.id)))
        .order_by(Aspiration.id.desc()).limit(limit)))


def region_names(codes) -> dict[str, str]:
    from kim_platform.regions.queries import regions_by_code

    return {code: region.name for code, region in regions_by_code([c for c in codes if c]).items()}


# --- public figures (no item, no text, no person: counts only) ----------------------------------

STATS_WINDOW_DAYS = 90


@dataclass
class PublicStats:
    region: str | None
    total: int
    by_kind: dict
    by_state: dict
    median_hours_to_answer: float | None
    answered: int
    answered_in_time_share: float | None
    top_topics: list


def public_stats(region: str | None = None, now=None, window_days: int = STATS_WINDOW_DAYS) -> PublicStats:
    """Figures of a region (a province or kabupaten/kota; None: Indonesia) over the last
    `window_days`: items by kind and state, the median time to the first answer, the share answered
    within the deadline, the top topics. Aggregates only, in one statement (grouping sets)."""
    from datetime import timedelta

    now = now or utcnow()
    conditions = [Aspiration.created_at >= now - timedelta(days=window_days)]
    if region:
        conditions.append(or_(Aspiration.desa_code == region, Aspiration.desa_code.like(descendant_pattern(region))))
    # grouping(kind, topic): 1 for the (kind, state) rows, 2 for the topic rows, 3 for the total row.
    level = func.grouping(Aspiration.kind, Aspiration.topic)
    rows = db.session.execute(
        select(level, Aspiration.kind, Aspiration.state, Aspiration.topic, func.count(),
               func.percentile_cont(0.5).within_group(extract("epoch", Aspiration.answered_at - Aspiration.created_at)),
               func.count(Aspiration.answered_at), func.count().filter(Aspiration.answered_in_time.is_(True)))
        .where(*conditions)
        .group_by(func.grouping_sets(tuple_(Aspiration.kind, Aspiration.state), tuple_(Aspiration.topic), tuple_())))
    by_kind, by_state, topics = {}, {}, []
    median = answered = in_time = None
    for grouping, kind, state, topic, count, med, n_answered, n_in_time in rows:
        if grouping == 1:
            by_kind[kind] = by_kind.get(kind, 0) + count
            by_state[state] = by_state.get(state, 0) + count
        elif grouping == 2:
            topics.append((topic, count))
        else:
            median, answered, in_time = med, n_answered, n_in_time
    answered = answered or 0
    topics.sort(key=lambda pair: (-pair[1], pair[0]))
    return PublicStats(region=region, total=sum(by_kind.values()), by_kind=by_kind, by_state=by_state,
                       median_hours_to_answer=round(median / 3600, 1) if median is not None else None,
                       answered=answered, answered_in_time_share=round(in_time / answered, 3) if answered else None,
                       top_topics=topics[:5])


# --- the public list: answered items their handler chose to publish ------------------------------

@dataclass
class PublicItem:
    """What the public sees of a published item: the handler's texts, never the resident's."""
    id: int
    kind: str
    topic: str
    desa_code: str
    public_title: str
    public_text: str
    public_claim: str | None
    verdict: str | None
    factcheck_link: str | None
    created_at: datetime
    answered_at: datetime | None
    published_at: datetime


# Only these columns are ever read for the public: the description, the resident, the evidence and
# the reporting KIM cannot reach a public page or answer by mistake.
_PUBLIC_COLUMNS = (Aspiration.id, Aspiration.kind, Aspiration.topic, Aspiration.desa_code, Aspiration.public_title,
                   Aspiration.public_text, Aspiration.public_claim, Aspiration.verdict, Aspiration.factcheck_link,
                   Aspiration.created_at, Aspiration.answered_at, Aspiration.published_at)


def _public_select():
    return select(*_PUBLIC_COLUMNS).where(Aspiration.published_at.is_not(None))


def public_item(item_id: int) -> PublicItem | None:
    """A published item's public version; None when unknown or not published."""
    if not 1 <= item_id < 2**63:
        return None
    row = db.session.execute(_public_select().where(Aspiration.id == item_id)).first()
    return PublicItem(*row) if row else None


def encode_public_cursor(published_at: datetime, item_id: int) -> str:
    raw = f"{published_at.astimezone(timezone.utc).isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_public_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, item_id = raw.split("|")
        published = datetime.fromisoformat(moment)
        if published.tzinfo is None:
            return None
        # PostgreSQL takes offsets up to 15 h only: normalise so no crafted offset reaches it.
        position = (published.astimezone(timezone.utc), int(item_id))
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        return None
    if not 1 <= position[1] < 2**63:
        return None
    return position


def public_page(region: str | None = None, kind: str | None = None, cursor: str | None = None,
                per_page: int = 20) -> Keyset:
    """One keyset page of published items, newest published first (no total is counted)."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    stmt = _public_select()
    if region:
        stmt = stmt.where(or_(Aspiration.desa_code == region, Aspiration.desa_code.like(descendant_pattern(region))))
    if kind:
        stmt = stmt.where(Aspiration.kind == kind)
    position = decode_public_cursor(cursor) if cursor else None
    if position is not None:
        stmt = stmt.where(tuple_(Aspiration.published_at, Aspiration.id) < tuple_(literal(position[0]),
                                                                                  literal(position[1])))
    rows = db.session.execute(stmt.order_by(Aspiration.published_at.desc(), Aspiration.id.desc())
                              .limit(per_page + 1)).all()
    items = [PublicItem(*row) for row in rows[:per_page]]
    more = len(rows) > per_page
    next_cursor = encode_public_cursor(items[-1].published_at, items[-1].id) if more and items else None
    return Keyset(items=items, next_cursor=next_cursor, per_page=per_page)


def public_place_names(items) -> dict[str, str]:
    """Names of the desa and kabupaten of these public items (one query)."""
    codes = set()
    for item in items:
        codes.update((item.desa_code, kabupaten_of(item.desa_code)))
    return region_names(codes)


def clarified_item(activity_id: int):
    """The hoax item a klarifikasi hoaks report was published from, or None (one query)."""
    return db.session.scalar(select(Aspiration).where(Aspiration.clarification_activity_id == activity_id))
