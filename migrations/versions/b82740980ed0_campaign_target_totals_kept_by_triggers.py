"""Campaign target totals (issue 17, the dashboard at national scale): per campaign and region, the
verified KIMs it targets and the desa in its target, kept exact by triggers, so the dashboard reads
one join of these totals and the reach totals (campaign_reach_region) instead of rebuilding its
target side and its gaps from the region and KIM tables on every request.

A row exists for every current region (not retired) of the four levels that lies in the target,
wholly (inside a target) or in part (it holds a target): `kims` are the verified KIMs of the
campaign's bidang whose desa lies inside a target and inside the row's region, `desa` the current
desa inside both, `reached` whether the reach totals count a report there (the gaps are the
kabupaten and kecamatan rows not reached: a partial index). There is no national row: the headline
sums the provinces.

- Targets added, removed or re-coded: the campaign's rows of that province are recomputed
  set-based (`campaign_target_refresh(campaign, province)`); a campaign's bidang changed: all its
  provinces. A national campaign of 38 provinces is built province by province.
- KIMs registered, verified, deactivated, moved, deleted or given other bidang: one statement-level
  trigger per event (transition tables, so a bulk load or a decree's remap is one set-based step)
  moves the difference into the rows, locked in (campaign, code) order.
- A region's reach row (campaign_reach_region) gets its first counted report or loses its last:
  a trigger on that table (WHEN the 0 / not 0 state changes) sets `reached`.
- `campaign_target_rebuild()` recomputes every campaign (the region apply hook, bulk loads).

A refresh of a province holds an advisory lock on it; KIM and reach changes hold it shared. So a
refresh waits for the changes in flight before it counts, and changes arriving meanwhile wait and
then apply to the new rows: none is lost between a count and a commit.

Revision ID: b82740980ed0
Revises: c9d4e7a1f352
Create Date: 2026-12-01 17:45:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = "b82740980ed0"
down_revision = "c9d4e7a1f352"
branch_labels = None
depends_on = None

CODE = sa.String(length=13, collation="C")

# [code, code || '/') holds a code and everything below it: codes are digits and dots, and
# '.' < '/' < '0'. One range keeps the index usable (an OR of = and LIKE does not).
REFRESH = """
CREATE FUNCTION campaign_target_refresh(p_campaign bigint, p_province text) RETURNS void AS $$
BEGIN
    -- Waits for the KIM changes of the province in flight (they hold it shared), so the counts
    -- below see them, and holds them off until this commits (then they add to the new rows).
    PERFORM pg_advisory_xact_lock(hashtext('campaign_target_total'), hashtext(p_province));
    DELETE FROM campaign_target_total
    WHERE campaign_id = p_campaign AND code >= p_province AND code < p_province || '/';
    -- A campaign being deleted takes its rows with it (ON DELETE CASCADE).
    IF NOT EXISTS (SELECT 1 FROM campaign WHERE id = p_campaign) THEN
        RETURN;
    END IF;
    INSERT INTO campaign_target_total (campaign_id, code, depth, kims, desa, reached)
    WITH t AS (
        SELECT region_code AS code FROM campaign_target
        WHERE campaign_id = p_campaign AND region_code >= p_province AND region_code < p_province || '/'
    ),
    outer_t AS (  -- a target inside another one adds nothing
        SELECT code FROM t WHERE NOT EXISTS (SELECT 1 FROM t o WHERE t.code LIKE o.code || '.%')
    ),
    places AS (  -- current regions inside a target, and those holding one
        SELECT r.code, r.level FROM outer_t JOIN region r ON r.code >= outer_t.code AND r.code < outer_t.code || '/'
        WHERE r.retired_on IS NULL
        UNION
        SELECT r.code, r.level FROM outer_t JOIN region r
            ON r.code IN (left(outer_t.code, 2), left(outer_t.code, 5), left(outer_t.code, 8))
           AND length(r.code) < length(outer_t.code)
        WHERE r.retired_on IS NULL
    ),
    desa_counts AS (
        SELECT p.prefix, count(*) AS n
        FROM places d, LATERAL unnest(ARRAY[left(d.code, 2), left(d.code, 5), left(d.code, 8), d.code]) AS p(prefix)
        WHERE d.level = 'desa' GROUP BY 1
    ),
    kim_counts AS (
        SELECT p.prefix, count(*) AS n
        FROM outer_t
        JOIN kim k ON k.status = 'verified' AND k.desa_code >= outer_t.code AND k.desa_code < outer_t.code || '/'
        JOIN campaign c ON c.id = p_campaign AND (cardinality(c.target_bidang) = 0 OR c.target_bidang && k.bidang),
        LATERAL unnest(ARRAY[left(k.desa_code, 2), left(k.desa_code, 5), left(k.desa_code, 8), k.desa_code]) AS p(prefix)
        GROUP BY 1
    )
    SELECT p_campaign, places.code, places.depth,
           coalesce(kim_counts.n, 0), coalesce(desa_counts.n, 0), coalesce(x.reports, 0) <> 0
    FROM (SELECT code, level, CASE level WHEN 'provinsi' THEN 1 WHEN 'kabupaten' THEN 2 WHEN 'kecamatan' THEN 3
                                         ELSE 4 END AS depth FROM places) places
    LEFT JOIN kim_counts ON kim_counts.prefix = places.code
    LEFT JOIN desa_counts ON desa_counts.prefix = places.code
    LEFT JOIN campaign_reach_region x ON x.campaign_id = p_campaign AND x.depth = places.depth
                                     AND x.code = places.code;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION campaign_target_refresh_campaign(p_campaign bigint) RETURNS void AS $$
DECLARE
    province text;
BEGIN
    -- Each province the campaign has rows or targets in, in province order (the order every lock
    -- taker follows), refreshed under its own lock. No campaign-wide DELETE first: it would hold
    -- rows of every province that a KIM change, holding its province shared, then waits on.
    FOR province IN SELECT left(region_code, 2) FROM campaign_target WHERE campaign_id = p_campaign
                    UNION SELECT left(code, 2) FROM campaign_target_total WHERE campaign_id = p_campaign
                    ORDER BY 1 LOOP
        PERFORM campaign_target_refresh(p_campaign, province);
    END LOOP;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION campaign_target_rebuild() RETURNS void AS $$
DECLARE
    province text;
    target record;
BEGIN
    -- Every province's lock first, in order, then the whole table: never a row lock before a
    -- province lock (see campaign_target_refresh_campaign).
    FOR province IN SELECT left(region_code, 2) FROM campaign_target
                    UNION SELECT left(code, 2) FROM campaign_target_total ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(hashtext('campaign_target_total'), hashtext(province));
    END LOOP;
    DELETE FROM campaign_target_total;
    FOR target IN SELECT DISTINCT left(region_code, 2) AS province, campaign_id FROM campaign_target
                  ORDER BY 1, 2 LOOP
        PERFORM campaign_target_refresh(target.campaign_id, target.province);
    END LOOP;
END
$$ LANGUAGE plpgsql;

-- A region of the reach totals gets its first counted report or loses its last one.
CREATE FUNCTION campaign_target_reached_trigger() RETURNS trigger AS $$
DECLARE
    row_ campaign_reach_region := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('campaign_target_total'), hashtext(left(row_.code, 2)));
    -- Every lookup names the depth too: then either index finds the one row, even when the
    -- table's statistics are stale (a bulk load in progress), instead of scanning the campaign.
    UPDATE campaign_target_total SET reached = (TG_OP <> 'DELETE' AND row_.reports <> 0)
    WHERE campaign_id = row_.campaign_id AND depth = row_.depth AND code = row_.code;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION campaign_target_bidang_trigger() RETURNS trigger AS $$
BEGIN
    PERFORM campaign_target_refresh_campaign(NEW.id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""

# What a KIM statement changed, as (kim, desa, bidang, +1/-1) contributions of verified KIMs, per event.
KIM_CHANGES = {
    "insert": "SELECT id, desa_code, bidang, 1 FROM new_kims WHERE status = 'verified'",
    "delete": "SELECT id, desa_code, bidang, -1 FROM old_kims WHERE status = 'verified'",
    "update": """
        SELECT o.id, o.desa_code, o.bidang, -1 FROM old_kims o JOIN new_kims n ON n.id = o.id
        WHERE o.status = 'verified'
          AND (o.status, o.desa_code, o.bidang) IS DISTINCT FROM (n.status, n.desa_code, n.bidang)
        UNION ALL
        SELECT n.id, n.desa_code, n.bidang, 1 FROM old_kims o JOIN new_kims n ON n.id = o.id
        WHERE n.status = 'verified'
          AND (o.status, o.desa_code, o.bidang) IS DISTINCT FROM (n.status, n.desa_code, n.bidang)""",
}

KIM_TRIGGER = """
CREATE FUNCTION campaign_target_kim_{event}_trigger() RETURNS trigger AS $$
DECLARE
    provinces text[];
    province text;
BEGIN
    SELECT array_agg(DISTINCT left(x.desa_code, 2) ORDER BY left(x.desa_code, 2)) INTO provinces
    FROM ({changes}) AS x (kim_id, desa_code, bidang, sign);
    IF provinces IS NULL THEN  -- no verified KIM came, went, moved or changed bidang
        RETURN NULL;
    END IF;
    -- Shared with other KIM changes, exclusive with a target refresh of the province (in province
    -- order): a refresh then never misses a KIM change committed after its counts (see above).
    FOREACH province IN ARRAY provinces LOOP
        PERFORM pg_advisory_xact_lock_shared(hashtext('campaign_target_total'), hashtext(province));
    END LOOP;
    WITH change (kim_id, desa_code, bidang, sign) AS ({changes}),
    hit AS (  -- each campaign targeting the KIM's desa and bidang, once (targets may nest)
        SELECT DISTINCT t.campaign_id, x.kim_id, x.desa_code, x.sign FROM change x
        JOIN campaign_target t
          ON t.region_code IN (left(x.desa_code, 2), left(x.desa_code, 5), left(x.desa_code, 8), x.desa_code)
        JOIN campaign c ON c.id = t.campaign_id AND (cardinality(c.target_bidang) = 0 OR c.target_bidang && x.bidang)
    ),
    delta AS (
        SELECT h.campaign_id, p.depth, p.prefix AS code, sum(h.sign) AS n
        FROM hit h, LATERAL unnest(ARRAY[left(h.desa_code, 2), left(h.desa_code, 5), left(h.desa_code, 8),
                                         h.desa_code]) WITH ORDINALITY AS p(prefix, depth)
        GROUP BY 1, 2, 3 HAVING sum(h.sign) <> 0
    ),
    locked AS MATERIALIZED (  -- in one order, so concurrent KIM changes cannot deadlock
        SELECT s.campaign_id, s.depth, s.code, d.n FROM campaign_target_total s
        JOIN delta d ON d.campaign_id = s.campaign_id AND d.depth = s.depth AND d.code = s.code
        ORDER BY s.campaign_id, s.code FOR UPDATE OF s
    )
    UPDATE campaign_target_total s SET kims = s.kims + locked.n
    FROM locked WHERE s.campaign_id = locked.campaign_id AND s.depth = locked.depth AND s.code = locked.code;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""

# A statement on campaign_target: each (campaign, province) it touched is refreshed once, in
# province order (a per-row trigger took the locks in the order rows were written: two edits of
# opposite provinces could deadlock, and 50 targets in a province meant 50 refreshes).
TARGET_ROWS = {"insert": "SELECT campaign_id, region_code FROM new_targets",
               "delete": "SELECT campaign_id, region_code FROM old_targets",
               "update": "SELECT campaign_id, region_code FROM old_targets "
                         "UNION SELECT campaign_id, region_code FROM new_targets"}
TARGET_TRIGGER_TABLES = {"insert": "NEW TABLE AS new_targets", "delete": "OLD TABLE AS old_targets",
                         "update": "OLD TABLE AS old_targets NEW TABLE AS new_targets"}
TARGET_TRIGGER = """
CREATE FUNCTION campaign_target_targets_{event}_trigger() RETURNS trigger AS $$
DECLARE
    pair record;
BEGIN
    FOR pair IN SELECT DISTINCT left(x.region_code, 2) AS province, x.campaign_id
                FROM ({rows}) AS x ORDER BY 1, 2 LOOP
        PERFORM campaign_target_refresh(pair.campaign_id, pair.province);
    END LOOP;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""

KIM_TRIGGER_TABLES = {"insert": "NEW TABLE AS new_kims", "delete": "OLD TABLE AS old_kims",
                      "update": "OLD TABLE AS old_kims NEW TABLE AS new_kims"}


REACHED_WHEN = {"insert": "NEW.reports <> 0", "update": "(OLD.reports = 0) <> (NEW.reports = 0)",
                "delete": "OLD.reports <> 0"}


def upgrade():
    op.create_table(
        "campaign_target_total",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("code", CODE, nullable=False),
        sa.Column("depth", sa.SmallInteger(), nullable=False),
        sa.Column("kims", sa.Integer(), nullable=False),
        sa.Column("desa", sa.Integer(), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE",
                                name=op.f("fk_campaign_target_total_campaign_id_campaign")),
        sa.PrimaryKeyConstraint("campaign_id", "code", name=op.f("pk_campaign_target_total")),
    )
    op.create_index("ix_campaign_target_total_depth", "campaign_target_total", ["campaign_id", "depth", "code"])
    op.create_index("ix_campaign_target_total_gaps", "campaign_target_total", ["campaign_id", "depth", "code"],
                    postgresql_where=sa.text("NOT reached"))
    op.execute(REFRESH)
    for event, changes in KIM_CHANGES.items():
        op.execute(KIM_TRIGGER.format(event=event, changes=changes))
        op.execute(f"CREATE TRIGGER campaign_target_kim_{event} AFTER {event.upper()} ON kim "
                   f"REFERENCING {KIM_TRIGGER_TABLES[event]} FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION campaign_target_kim_{event}_trigger()")
    for event, rows in TARGET_ROWS.items():
        op.execute(TARGET_TRIGGER.format(event=event, rows=rows))
        op.execute(f"CREATE TRIGGER campaign_target_total_{event} AFTER {event.upper()} ON campaign_target "
                   f"REFERENCING {TARGET_TRIGGER_TABLES[event]} FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION campaign_target_targets_{event}_trigger()")
    op.execute("CREATE TRIGGER campaign_target_bidang AFTER UPDATE OF target_bidang ON campaign FOR EACH ROW "
               "WHEN (OLD.target_bidang IS DISTINCT FROM NEW.target_bidang) "
               "EXECUTE FUNCTION campaign_target_bidang_trigger()")
    # Only when a region's "reached" changes (WHEN runs without calling the function otherwise).
    for event, when in REACHED_WHEN.items():
        op.execute(f"CREATE TRIGGER campaign_target_reached_{event} AFTER {event.upper()} ON campaign_reach_region "
                   f"FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION campaign_target_reached_trigger()")
    # Every existing campaign (drafts too: their dashboard shows the target already).
    op.execute("SELECT campaign_target_rebuild()")


def downgrade():
    for event in REACHED_WHEN:
        op.execute(f"DROP TRIGGER campaign_target_reached_{event} ON campaign_reach_region")
    op.execute("DROP TRIGGER campaign_target_bidang ON campaign")
    for event in TARGET_ROWS:
        op.execute(f"DROP TRIGGER campaign_target_total_{event} ON campaign_target; "
                   f"DROP FUNCTION campaign_target_targets_{event}_trigger()")
    for event in KIM_CHANGES:
        op.execute(f"DROP TRIGGER campaign_target_kim_{event} ON kim; "
                   f"DROP FUNCTION campaign_target_kim_{event}_trigger()")
    op.execute("DROP FUNCTION campaign_target_reached_trigger(); DROP FUNCTION campaign_target_bidang_trigger(); "
               "DROP FUNCTION campaign_target_rebuild(); DROP FUNCTION campaign_target_refresh_campaign(bigint); "
               "DROP FUNCTION campaign_target_refresh(bigint, text)")
    op.drop_table("campaign_target_total")
