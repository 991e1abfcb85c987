"""Reads of KIM health, and the daily computation of every KIM's state in a few statements.

The state is computed for all verified KIMs at once (one INSERT … SELECT … ON CONFLICT and one
DELETE), never a query per KIM: 84,000 KIMs take one pass over kim and kim_membership."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, or_, select, text, true

from kim_platform import permissions
from kim_platform.accounts.models import User
from kim_platform.extensions import db
from kim_platform.health.models import ContactNote, HealthState, KimHealth, KimHealthRegion
from kim_platform.kims.models import MANAGER_ROLES, Kim, KimSkVersion, KimStatus, Membership
from kim_platform.kims.slots import RegionHealth
from kim_platform.maps.slots import NOT_ASSESSED, TileCondition
from kim_platform.regions.codes import LEVEL_WIDTH, descendant_pattern

REPORT_WARNING_DAYS = 90  # no published report for 90 days: perlu pendampingan
REPORT_DORMANT_DAYS = 180  # for 180 days: vakum
CONFIRM_MONTHS = 13  # data unconfirmed for longer: a flag
MIN_MEMBERS = 3


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the month's last day when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# One statement for every verified KIM. `silent` counts the days since the latest published report
# (since verification for a KIM without one); an SK ending today is still valid today.
COMPUTE_SQL = text("""
WITH facts AS (
    SELECT k.id, k.last_activity_on, k.sk_valid_until,
           k.sk_number IS NULL AND k.sk_date IS NULL AND k.sk_file_key IS NULL AS no_sk,
           CAST(:today AS date) - coalesce(k.last_activity_on,
                                           (k.verified_at AT TIME ZONE 'Asia/Jakarta')::date,
                                           (k.created_at AT TIME ZONE 'Asia/Jakarta')::date) AS silent,
           (coalesce(k.data_confirmed_at, k.verified_at, k.created_at) AT TIME ZONE 'Asia/Jakarta')::date
               AS confirmed_on,
           m.members, m.positions
    FROM kim k
    -- Per KIM through its index, whatever the planner's statistics say (a grouped join over all
    -- memberships turned into a nested loop on fresh, unanalysed tables: minutes instead of seconds).
    CROSS JOIN LATERAL (
        SELECT count(*) AS members, count(DISTINCT m.position) AS positions
        FROM kim_membership m JOIN user_account u ON u.id = m.user_id AND u.is_active
        WHERE m.kim_id = k.id
    ) m
    WHERE k.status = :verified_status AND (CAST(:kim_id AS bigint) IS NULL OR k.id = CAST(:kim_id AS bigint))
), judged AS (
    SELECT id, last_activity_on, silent, array_remove(ARRAY[
               CASE WHEN silent >= :dormant THEN 'no_report_180'
                    WHEN silent >= :warning THEN 'no_report_90' END,
               CASE WHEN sk_valid_until < CAST(:today AS date) THEN 'sk_expired' END,
               CASE WHEN no_sk THEN 'sk_missing' END,
               CASE WHEN positions < 3 THEN 'pengurus_missing' END,
               CASE WHEN members < :min_members THEN 'few_members' END,
               CASE WHEN confirmed_on < CAST(:confirm_cutoff AS date) THEN 'unconfirmed' END
           ]::varchar(20)[], NULL) AS reasons
    FROM facts
)
INSERT INTO kim_health AS h (kim_id, state, reasons, last_report_on, computed_on, state_since, previous_state)
SELECT id,
       CASE WHEN silent >= :dormant THEN 'vakum'
            WHEN cardinality(reasons) > 0 THEN 'perlu_pendampingan'
            ELSE 'aktif' END,
       reasons, last_activity_on, CAST(:today AS date), CAST(:today AS date), NULL
FROM judged
ON CONFLICT (kim_id) DO UPDATE SET
    state = EXCLUDED.state, reasons = EXCLUDED.reasons, last_report_on = EXCLUDED.last_report_on,
    computed_on = EXCLUDED.computed_on,
    state_since = CASE WHEN h.state = EXCLUDED.state THEN h.state_since ELSE EXCLUDED.computed_on END,
    previous_state = CASE WHEN h.state = EXCLUDED.state THEN h.previous_state ELSE h.state END
""")

# KIMs no longer verified (deactivated, moved back to verification) have no health state.
PRUNE_SQL = text("DELETE FROM kim_health h USING kim k WHERE k.id = h.kim_id AND k.status <> :verified_status")


# The states per region code, from the nation ('') down to the desa: every prefix level of a KIM's
# desa code in one pass (as coverage's rebuild does), never a query per region; one statement, so
# regions left without KIMs read 0. The nation's row is always written: its changed_at is the
# version of what is built on the states.
REGION_REBUILD_SQL = text("""
WITH counted AS (
    SELECT p.code, count(*) FILTER (WHERE h.state = 'aktif') AS aktif,
           count(*) FILTER (WHERE h.state = 'perlu_pendampingan') AS perlu_pendampingan,
           count(*) FILTER (WHERE h.state = 'vakum') AS vakum
    FROM kim_health h JOIN kim k ON k.id = h.kim_id
    CROSS JOIN LATERAL (VALUES (''), (left(k.desa_code, 2)), (left(k.desa_code, 5)), (left(k.desa_code, 8)),
                               (k.desa_code)) AS p(code)
    WHERE k.status = :verified_status
    GROUP BY p.code
)
INSERT INTO kim_health_region AS r (code, aktif, perlu_pendampingan, vakum, computed_on, changed_at)
SELECT coalesce(c.code, before.code), coalesce(c.aktif, 0), coalesce(c.perlu_pendampingan, 0), coalesce(c.vakum, 0),
       CAST(:today AS date), clock_timestamp()
FROM counted c FULL JOIN kim_health_region before ON before.code = c.code
UNION ALL
SELECT '', 0, 0, 0, CAST(:today AS date), clock_timestamp()
WHERE NOT EXISTS (SELECT 1 FROM counted WHERE code = '') AND NOT EXISTS (SELECT 1 FROM kim_health_region WHERE code = '')
ON CONFLICT (code) DO UPDATE SET
    aktif = EXCLUDED.aktif, perlu_pendampingan = EXCLUDED.perlu_pendampingan, vakum = EXCLUDED.vakum,
    computed_on = EXCLUDED.computed_on, changed_at = EXCLUDED.changed_at
""")


def compute_states(today: date, kim_id: int | None = None) -> int:
    """Store every verified KIM's state and reasons as of `today` and the states per region (or only
    `kim_id`'s, after its admins confirmed the data); returns how many were written."""
    written = db.session.execute(COMPUTE_SQL, {
        "today": today, "warning": REPORT_WARNING_DAYS, "dormant": REPORT_DORMANT_DAYS, "kim_id": kim_id,
        "verified_status": KimStatus.VERIFIED,
        "min_members": MIN_MEMBERS, "confirm_cutoff": months_before(today, CONFIRM_MONTHS)}).rowcount
    db.session.execute(PRUNE_SQL if kim_id is None else text(PRUNE_SQL.text + " AND k.id = :kim_id"),
                       {"verified_status": KimStatus.VERIFIED, **({} if kim_id is None else {"kim_id": kim_id})})
    if kim_id is None:
        # The per-region figures are as of the daily run (`health_as_of`), also after one KIM's
        # confirmation: a move by one would use the KIM's current desa, not the one it was counted
        # under (negative after a move), and a recount of every KIM per confirmation costs seconds
        # at national scale. The KIM's own state and its profile change at once.
        rebuild_region_states(db.session.connection(), today)
    return written


def rebuild_region_states(connection, today: date | None = None) -> None:
    """Recount the states per region from kim_health (the daily run; after a new Kepmendagri, whose
    remapped KIMs count under their new codes)."""
    if today is None:
        today = connection.execute(text("SELECT coalesce(max(computed_on), CURRENT_DATE) FROM kim_health")).scalar()
    connection.execute(REGION_REBUILD_SQL, {"today": today, "verified_status": KimStatus.VERIFIED})


# The columns of KimHealthRegion, read as plain rows: the coverage API asks for every region of
# its table on each call, and loading them as ORM objects (with an IN list expanded per call) cost
# more than the coverage query itself.
_REGION_STATES = text(f"""
    SELECT code, {", ".join(HealthState.ALL)}, computed_on, changed_at FROM kim_health_region
    WHERE code = ANY(CAST(:codes AS varchar[]))
""")  # nosec B608 - the formatted names are the model's constant column names


def region_states(codes) -> RegionHealth:
    """The `kim_health.by_region` slot: KIMs per health state for each of `codes` (0 where none),
    the day they were counted and their version (one query; none for the version alone)."""
    codes = list(dict.fromkeys(codes))
    found = {row["code"]: row for row in db.session.execute(_REGION_STATES, {"codes": ["", *codes]}).mappings()}
    nation = found.get("")
    none = dict.fromkeys(HealthState.ALL, 0)
    counts = {code: {state: found[code][state] for state in HealthState.ALL} if code in found else dict(none)
              for code in codes}
    return RegionHealth(as_of=nation["computed_on"] if nation else None,
                        version=nation["changed_at"].isoformat() if nation else "", counts=counts)


def states_version() -> str:
    """Changes whenever a health state does (the nation row of kim_health_region)."""
    changed = db.session.scalar(select(KimHealthRegion.changed_at).where(KimHealthRegion.code == ""))
    return changed.isoformat() if changed else ""


def direct_region_states(level: str, parent: str | None = None) -> dict[str, dict[str, int]]:
    """The same counts for the regions of `level` below `parent`, from kim_health itself (the
    oracle for the tests)."""
    width = LEVEL_WIDTH[level]
    rows = db.session.execute(text("""
        SELECT left(k.desa_code, :width), h.state, count(*) FROM kim_health h JOIN kim k ON k.id = h.kim_id
        WHERE k.status = :verified_status AND k.desa_code LIKE :prefix GROUP BY 1, 2
    """), {"width": width, "verified_status": KimStatus.VERIFIED, "prefix": (parent + ".%") if parent else "%"})
    found: dict[str, dict[str, int]] = {}
    for code, state, n in rows:
        found.setdefault(code, dict.fromkeys(HealthState.ALL, 0))[state] = n
    return found


def health_of(kim_id: int) -> KimHealth | None:
    return db.session.get(KimHealth, kim_id, populate_existing=True)  # the daily SQL writes it


def state_condition(filters: dict):
    """The `kim_list.filters` slot: `health=<state>` keeps the KIMs in that state."""
    state = filters.get("health")
    if not state:
        return None
    return select(KimHealth.kim_id).where(KimHealth.kim_id == Kim.id, KimHealth.state == state).exists()


def tile_condition(filters: dict) -> TileCondition | None:
    """The `map_tiles.filters` slot: `health=<state>` keeps the KIMs in that state on the map,
    `health=belum_dinilai` those without one yet; such tiles are renewed when the states change."""
    state = filters.get("health")
    if not state:
        return None
    if state == NOT_ASSESSED:
        return TileCondition("health.state", "NOT EXISTS (SELECT 1 FROM kim_health h WHERE h.kim_id = k.id)", {},
                             states_version)
    return TileCondition("health.state",
                         "EXISTS (SELECT 1 FROM kim_health h WHERE h.kim_id = k.id AND h.state = :health_state)",
                         {"health_state": state}, states_version)


def _scope_condition(viewer):
    if permissions.is_direktorat(viewer):
        return true()
    scope = permissions.pembina_scope(viewer)
    if not scope:
        return Kim.id.is_(None)
    return or_(Kim.desa_code == scope, Kim.desa_code.like(descendant_pattern(scope)))


@dataclass
class AttentionPage:
    rows: list  # (Kim, KimHealth)
    next_cursor: int | None  # the keyset cursor of the next page (a KIM id), None on the last page
    total: int


def attention_list(viewer, cursor: int | None = None, per_page: int = 50, state: str | None = None) -> AttentionPage:
    """The KIMs of the viewer's scope that need attention (perlu pendampingan, vakum), by KIM id,
    keyset-paginated (`cursor`: the last id of the previous page): stable while states change."""
    states = (state,) if state in HealthState.NEEDS_ATTENTION else HealthState.NEEDS_ATTENTION
    where = and_(KimHealth.state.in_(states), Kim.status == KimStatus.VERIFIED, _scope_condition(viewer))
    stmt = (select(Kim, KimHealth).join(KimHealth, KimHealth.kim_id == Kim.id).where(where)
            .order_by(Kim.id).limit(per_page + 1))
    if cursor:
        stmt = stmt.where(Kim.id > cursor)
    rows = [(row.Kim, row.KimHealth) for row in db.session.execute(stmt)]
    total = db.session.scalar(select(func.count()).select_from(Kim).join(KimHealth, KimHealth.kim_id == Kim.id)
                              .where(where))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return AttentionPage(rows=rows, next_cursor=rows[-1][0].id if more else None, total=total or 0)


@dataclass
class Contact:
    name: str
    role: str
    email: str
    whatsapp: str | None


def admin_contacts(viewer, kims: list[Kim]) -> dict[int, list[Contact]]:
    """The ketua and admins of these KIMs (one query), their email and WhatsApp as the privacy
    rule lets `viewer` see them: whole for the KIM's members and its region's pembina, else masked."""
    found: dict[int, list[Contact]] = {kim.id: [] for kim in kims}
    if not found:
        return found
    by_id = {kim.id: kim for kim in kims}
    rows = db.session.execute(
        select(Membership.kim_id, Membership.role, User.name, User.email, User.whatsapp)
        .join(User, User.id == Membership.user_id)
        .where(Membership.kim_id.in_(found), Membership.role.in_(MANAGER_ROLES), User.is_active)
        .order_by(Membership.kim_id, Membership.role.desc(), User.name))
    for kim_id, role, name, email, whatsapp in rows:
        full = permissions.can_see_private_kim_data(viewer, by_id[kim_id]) if permissions.is_authenticated(viewer) \
            else False
        found[kim_id].append(Contact(name=name, role=role, email=email if full else permissions.mask_email(email),
                                     whatsapp=whatsapp if full else None))
    return found


def notes_of(kim_ids: list[int], limit_each: int = 5) -> dict[int, list[ContactNote]]:
    """The latest contact notes of these KIMs (one query), newest first."""
    found: dict[int, list[ContactNote]] = {kim_id: [] for kim_id in kim_ids}
    if not found:
        return found
    ranked = (select(ContactNote.id, func.row_number().over(
        partition_by=ContactNote.kim_id, order_by=(ContactNote.created_at.desc(), ContactNote.id.desc())).label("n"))
        .where(ContactNote.kim_id.in_(found)).subquery())
    notes = db.session.scalars(select(ContactNote).join(ranked, ranked.c.id == ContactNote.id)
                               .where(ranked.c.n <= limit_each)
                               .order_by(ContactNote.kim_id, ContactNote.created_at.desc(), ContactNote.id.desc()))
    for note in notes:
        found[note.kim_id].append(note)
    return found


def sk_history(kim: Kim) -> list[KimSkVersion]:
    """Every SK uploaded for the KIM, newest first."""
    return list(db.session.scalars(select(KimSkVersion).where(KimSkVersion.kim_id == kim.id)
                                   .order_by(KimSkVersion.created_at.desc(), KimSkVersion.id.desc())))
