"""Reading the stored scores: rankings, best reports, the examples gallery, who dropped."""
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload

from kim_platform.activities.models import Activity, ActivityStatus
from kim_platform.core import clock
from kim_platform.core.pagination import Page, paginate
from kim_platform.extensions import db
from kim_platform.kims.models import Kim, KimStatus
from kim_platform.kims.queries import bidang_with_children, within
from kim_platform.teladan.models import KimScore, TeladanRun
from kim_platform.teladan.scoring import PERIOD_DAYS, PERIODS


# Best score first (ties: the older registration first).
RANKING_ORDER = (KimScore.score.desc(), KimScore.kim_id)


def ranking_query(region: str | None = None, bidang: str | None = None):
    """(KimScore, Kim) of the eligible verified KIMs, in RANKING_ORDER."""
    stmt = (select(KimScore, Kim).join(Kim, Kim.id == KimScore.kim_id)
            .where(KimScore.eligible, Kim.status == KimStatus.VERIFIED)
            .order_by(*RANKING_ORDER))
    if region:
        stmt = stmt.where(within(Kim.desa_code, region))
    if bidang:
        stmt = stmt.where(Kim.bidang.overlap(bidang_with_children(bidang)))
    return stmt


def ranking(region: str | None = None, bidang: str | None = None, page: int = 1, per_page: int = 24) -> Page:
    """Eligible verified KIMs, best score first (ties: the older registration first)."""
    return paginate(ranking_query(region, bidang), page, per_page, scalars=False)


@dataclass
class RankingJsonPage(Page):
    """A page of the ranking whose `items` is one JSON array text PostgreSQL wrote (ranking_json),
    with the last full recompute's time as text (`computed_at`, ISO 8601, None before any)."""
    computed_at: str | None = None


@cache
def ranked():
    """The aliases (`ks` score, `tk` its KIM) of ranking_json's statement, over which its caller
    writes the item (one pair for the process: an item built once serves every request)."""
    from sqlalchemy.orm import aliased

    return aliased(KimScore, name="ks"), aliased(Kim, name="tk")


def ranking_json(item, region: str | None = None, bidang: str | None = None, page: int = 1,
                 per_page: int = 24) -> RankingJsonPage:
    """`ranking`'s page (the same filters, order and total) and `last_run`'s time in one
    statement, the items written by PostgreSQL: `item` is the JSON of one score over `ranked()`."""
    from kim_platform.core.pagination import MAX_PAGE, MAX_PER_PAGE
    from kim_platform.core.sqljson import iso_datetime, json_array

    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, min(page, MAX_PAGE))
    stmt = ranking_query(region, bidang)
    counted = select(func.count()).select_from(stmt.order_by(None).with_only_columns(KimScore.kim_id).subquery())
    ordinal = func.row_number().over(order_by=RANKING_ORDER).label("ord")
    paged = (stmt.with_only_columns(KimScore.kim_id, ordinal).limit(per_page).offset((page - 1) * per_page)
             .subquery("p"))
    ran_at = select(iso_datetime(TeladanRun.ran_at)).order_by(TeladanRun.ran_at.desc()).limit(1)
    ks, tk = ranked()
    row = db.session.execute(
        select(counted.scalar_subquery(), json_array(item, paged.c.ord), ran_at.scalar_subquery())
        .select_from(paged.join(ks, ks.kim_id == paged.c.kim_id).join(tk, tk.id == ks.kim_id))).one()
    return RankingJsonPage(items=row[1], page=page, per_page=per_page, total=row[0] or 0, computed_at=row[2])


def score_of(kim_id: int) -> KimScore | None:
    """The stored score of a verified KIM; computed on the spot (not stored) if it has none yet,
    e.g. after a bulk load before `flask teladan recompute`."""
    stored = db.session.get(KimScore, kim_id)
    if stored is not None:
        return stored
    from kim_platform.teladan.scoring import DROP_DAYS, compute

    today = clock.today()
    now = compute(today, [kim_id]).get(kim_id)
    if now is None:
        return None
    past = compute(today - timedelta(days=DROP_DAYS), [kim_id])[kim_id]
    return KimScore(kim_id=kim_id, as_of=today, score=now.score, regularity=now.regularity, recency=now.recency,
                    variety=now.variety, reach=now.reach, evidence=now.evidence, completeness=now.completeness,
                    active_months=now.months, last_report_on=now.last_on, eligible=now.months > 0,
                    score_90_days_ago=past.score)


def last_run() -> TeladanRun | None:
    return db.session.scalar(select(TeladanRun).order_by(TeladanRun.ran_at.desc()).limit(1))


def best_reports(kim_ids: list[int], per_kim: int = 3) -> dict[int, list[Activity]]:
    """Up to `per_kim` recent published reports per KIM, those with photos first, then the widest reach."""
    if not kim_ids:
        return {}
    since = clock.today() - timedelta(days=PERIODS * PERIOD_DAYS)
    ids = db.session.execute(text("""
        SELECT id FROM (
            SELECT a.id, row_number() OVER (
                PARTITION BY a.kim_id
                ORDER BY EXISTS (SELECT 1 FROM activity_photo p WHERE p.activity_id = a.id) DESC,
                         a.reach_offline + a.reach_online DESC, a.activity_date DESC, a.id DESC) AS rank
            FROM activity a
            WHERE a.kim_id = ANY(:ids) AND a.status = :published_status AND a.activity_date > :since
        ) ranked WHERE rank <= :per_kim
    """), {"ids": kim_ids, "since": since, "per_kim": per_kim,
           "published_status": ActivityStatus.PUBLISHED}).scalars().all()
    reports = db.session.scalars(select(Activity).where(Activity.id.in_(ids)).options(selectinload(Activity.photos))
                                 .order_by(Activity.activity_date.desc(), Activity.id.desc())).all()
    grouped: dict[int, list[Activity]] = {}
    for report in reports:
        grouped.setdefault(report.kim_id, []).append(report)
    return grouped


def examples(types: list[str], per_type: int = 4, candidates: int = 200) -> dict[str, list[Activity]]:
    """For each activity type, good recent reports of verified KIMs to learn from: among the latest
    `candidates` of the type, those with photos first, then with links, then the widest reach."""
    since = clock.today() - timedelta(days=PERIODS * PERIOD_DAYS)
    ids = db.session.execute(text("""
        SELECT best.id FROM unnest(CAST(:types AS text[])) AS t(type)
        CROSS JOIN LATERAL (
            SELECT c.id FROM (
                SELECT a.id, a.reach_offline + a.reach_online AS reach, a.links, a.activity_date
                FROM activity a JOIN kim k ON k.id = a.kim_id AND k.status = :verified_status
                WHERE a.type = t.type AND a.status = :published_status AND a.activity_date > :since
                ORDER BY a.activity_date DESC, a.id DESC LIMIT :candidates
            ) c
            ORDER BY EXISTS (SELECT 1 FROM activity_photo p WHERE p.activity_id = c.id) DESC,
                     jsonb_array_length(c.links) > 0 DESC, c.reach DESC, c.activity_date DESC, c.id DESC
            LIMIT :per_type
        ) best
    """), {"types": types, "since": since, "per_type": per_type, "candidates": candidates,
           "verified_status": KimStatus.VERIFIED, "published_status": ActivityStatus.PUBLISHED}).scalars().all()
    reports = db.session.scalars(select(Activity).where(Activity.id.in_(ids))
                                 .options(selectinload(Activity.photos), selectinload(Activity.kim))).all()
    grouped: dict[str, list[Activity]] = {t: [] for t in types}
    for report in sorted(reports, key=lambda r: (-len(r.photos), -(r.reach_offline + r.reach_online), -r.id)):
        grouped[report.type].append(report)
    return grouped


def dropped_most(scope: str | None, limit: int = 10) -> list[tuple[KimScore, Kim]]:
    """Verified KIMs in the scope (the nation without one) whose score fell most over 90 days."""
    drop = KimScore.score_90_days_ago - KimScore.score
    stmt = (select(KimScore, Kim).join(Kim, Kim.id == KimScore.kim_id)
            .where(Kim.status == KimStatus.VERIFIED, drop > 0).order_by(drop.desc(), KimScore.kim_id))
    if scope:
        stmt = stmt.where(within(Kim.desa_code, scope))
    return [tuple(row) for row in db.session.execute(stmt.limit(limit))]


def teladan_count(region: str | None = None) -> int:
    from kim_platform.teladan.scoring import TELADAN_MIN_SCORE

    stmt = (select(func.count()).select_from(KimScore).join(Kim, Kim.id == KimScore.kim_id)
            .where(KimScore.eligible, KimScore.score >= TELADAN_MIN_SCORE, Kim.status == KimStatus.VERIFIED))
    if region:
        stmt = stmt.where(within(Kim.desa_code, region))
    return db.session.scalar(stmt) or 0
