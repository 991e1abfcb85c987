"""Campaign reach totals (issue 17, the dashboard): per campaign and region prefix, per campaign and
KIM, per campaign and day, kept exact by triggers.

`campaign_reach_item` holds each dissemination as it was last counted (present only while it
counts: a published, complete report of a verified or inactive KIM, the rule of
campaigns.queries.reach). `campaign_reach_sync(activity)` compares it with what the raw tables
say now and moves the difference into the totals, so a link, an unlink, a report edited, hidden,
deleted or moved, or a KIM suspended or moved, all take the same path.

Revision ID: b4f8e2a6c9d1
Revises: a3f9c1e7d2b4
Create Date: 2026-12-01 15:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = "b4f8e2a6c9d1"
down_revision = "a3f9c1e7d2b4"
branch_labels = None
depends_on = None

CODE = sa.String(length=13, collation="C")

# A report's desa row is locked first, then its ancestors from the province down (as kim_stats
# does), so two reports of one campaign do not deadlock over their common ancestors. There is no
# national row (every report of a campaign would queue on it): the headline sums the provinces.
FUNCTIONS = """
CREATE FUNCTION campaign_reach_apply(p campaign_reach_item, p_sign integer) RETURNS void AS $$
DECLARE
    kim_after integer;
    desa_after integer;
    kim_delta integer := 0;
    desa_delta integer := 0;
BEGIN
    INSERT INTO campaign_reach_kim AS s (campaign_id, kim_id, desa_code, reports)
    VALUES (p.campaign_id, p.kim_id, p.kim_desa_code, p_sign)
    ON CONFLICT (campaign_id, kim_id, desa_code) DO UPDATE SET reports = s.reports + EXCLUDED.reports
    RETURNING reports INTO kim_after;
    IF p_sign > 0 AND kim_after = 1 THEN
        kim_delta := 1;
    ELSIF p_sign < 0 AND kim_after = 0 THEN
        kim_delta := -1;
        DELETE FROM campaign_reach_kim WHERE campaign_id = p.campaign_id AND kim_id = p.kim_id
                                         AND desa_code = p.kim_desa_code;
    END IF;

    -- Reports, people and reached desa by the report's desa: its own row first (locked, so the
    -- 0 <-> 1 step of "reached" is seen by one writer only), then its ancestors.
    INSERT INTO campaign_reach_region AS s (campaign_id, code, depth, reports, people, kims, desa)
    VALUES (p.campaign_id, p.desa_code, 4, p_sign, p_sign * p.people, 0, 0)
    ON CONFLICT (campaign_id, code) DO UPDATE SET reports = s.reports + EXCLUDED.reports,
                                                  people = s.people + EXCLUDED.people
    RETURNING reports INTO desa_after;
    IF p_sign > 0 AND desa_after = 1 THEN
        desa_delta := 1;
    ELSIF p_sign < 0 AND desa_after = 0 THEN
        desa_delta := -1;
    END IF;
    IF desa_delta <> 0 THEN
        UPDATE campaign_reach_region SET desa = desa + desa_delta
        WHERE campaign_id = p.campaign_id AND code = p.desa_code;
    END IF;
    INSERT INTO campaign_reach_region AS s (campaign_id, code, depth, reports, people, kims, desa)
    SELECT p.campaign_id, prefix, depth, p_sign, p_sign * p.people, 0, desa_delta
    FROM unnest(ARRAY[left(p.desa_code, 2), left(p.desa_code, 5), left(p.desa_code, 8)])
         WITH ORDINALITY AS chain(prefix, depth)
    ORDER BY depth
    ON CONFLICT (campaign_id, code) DO UPDATE SET reports = s.reports + EXCLUDED.reports,
                                                  people = s.people + EXCLUDED.people,
                                                  desa = s.desa + EXCLUDED.desa;

    -- Reached KIMs by the KIM's own desa.
    IF kim_delta <> 0 THEN
        INSERT INTO campaign_reach_region AS s (campaign_id, code, depth, reports, people, kims, desa)
        SELECT p.campaign_id, prefix, depth, 0, 0, kim_delta, 0
        FROM unnest(ARRAY[left(p.kim_desa_code, 2), left(p.kim_desa_code, 5), left(p.kim_desa_code, 8),
                          p.kim_desa_code]) WITH ORDINALITY AS chain(prefix, depth)
        ORDER BY depth
        ON CONFLICT (campaign_id, code) DO UPDATE SET kims = s.kims + EXCLUDED.kims;
    END IF;

    INSERT INTO campaign_reach_day AS s (campaign_id, day, reports, people)
    VALUES (p.campaign_id, p.day, p_sign, p_sign * p.people)
    ON CONFLICT (campaign_id, day) DO UPDATE SET reports = s.reports + EXCLUDED.reports,
                                                 people = s.people + EXCLUDED.people;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION campaign_reach_sync(p_activity bigint) RETURNS void AS $$
DECLARE
    was campaign_reach_item;
    now_ campaign_reach_item;
    had boolean;
    has boolean;
BEGIN
    SELECT * INTO was FROM campaign_reach_item WHERE activity_id = p_activity FOR UPDATE;
    had := FOUND;
    SELECT a.id, d.campaign_id, a.kim_id, k.desa_code, a.desa_code, a.activity_date, a.reach_offline
    INTO now_
    FROM campaign_dissemination d JOIN activity a ON a.id = d.activity_id JOIN kim k ON k.id = a.kim_id
    WHERE d.activity_id = p_activity AND a.status = 'published' AND a.pending_action IS NULL
      AND k.status IN ('verified', 'inactive');
    has := FOUND;
    IF had AND has AND was IS NOT DISTINCT FROM now_ THEN
        RETURN;
    END IF;
    IF had THEN
        DELETE FROM campaign_reach_item WHERE activity_id = p_activity;
        -- A campaign being deleted takes its totals with it (ON DELETE CASCADE).
        IF EXISTS (SELECT 1 FROM campaign WHERE id = was.campaign_id) THEN
            PERFORM campaign_reach_apply(was, -1);
        END IF;
    END IF;
    IF has THEN
        INSERT INTO campaign_reach_item SELECT now_.*;
        PERFORM campaign_reach_apply(now_, 1);
    END IF;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION campaign_reach_dissemination_trigger() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM campaign_reach_sync(OLD.activity_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.activity_id <> OLD.activity_id) THEN
        PERFORM campaign_reach_sync(NEW.activity_id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION campaign_reach_activity_trigger() RETURNS trigger AS $$
BEGIN
    PERFORM campaign_reach_sync(NEW.id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION campaign_reach_kim_trigger() RETURNS trigger AS $$
DECLARE
    linked bigint;
BEGIN
    FOR linked IN SELECT d.activity_id FROM activity a JOIN campaign_dissemination d ON d.activity_id = a.id
                  WHERE a.kim_id = NEW.id ORDER BY d.activity_id LOOP
        PERFORM campaign_reach_sync(linked);
    END LOOP;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION campaign_reach_rebuild() RETURNS void AS $$
BEGIN
    DELETE FROM campaign_reach_item;
    DELETE FROM campaign_reach_kim;
    DELETE FROM campaign_reach_region;
    DELETE FROM campaign_reach_day;
    INSERT INTO campaign_reach_item (activity_id, campaign_id, kim_id, kim_desa_code, desa_code, day, people)
    SELECT a.id, d.campaign_id, a.kim_id, k.desa_code, a.desa_code, a.activity_date, a.reach_offline
    FROM campaign_dissemination d JOIN activity a ON a.id = d.activity_id JOIN kim k ON k.id = a.kim_id
    WHERE a.status = 'published' AND a.pending_action IS NULL AND k.status IN ('verified', 'inactive');
    INSERT INTO campaign_reach_kim (campaign_id, kim_id, desa_code, reports)
    SELECT campaign_id, kim_id, kim_desa_code, count(*) FROM campaign_reach_item GROUP BY 1, 2, 3;
    INSERT INTO campaign_reach_day (campaign_id, day, reports, people)
    SELECT campaign_id, day, count(*), sum(people) FROM campaign_reach_item GROUP BY 1, 2;
    INSERT INTO campaign_reach_region (campaign_id, code, depth, reports, people, kims, desa)
    SELECT campaign_id, prefix, depth, sum(reports), sum(people), sum(kims), sum(desa) FROM (
        SELECT campaign_id, desa_code, count(*) AS reports, sum(people) AS people, 0 AS kims, 1 AS desa
        FROM campaign_reach_item GROUP BY 1, 2
        UNION ALL
        SELECT campaign_id, desa_code, 0, 0, count(*), 0 FROM campaign_reach_kim GROUP BY 1, 2
    ) per_desa, LATERAL unnest(ARRAY[left(desa_code, 2), left(desa_code, 5), left(desa_code, 8), desa_code])
                WITH ORDINALITY AS chain(prefix, depth)
    GROUP BY 1, 2, 3;
END
$$ LANGUAGE plpgsql;
"""


def upgrade():
    op.create_table(
        "campaign_reach_item",
        sa.Column("activity_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("kim_id", sa.BigInteger(), nullable=False),
        sa.Column("kim_desa_code", CODE, nullable=False),
        sa.Column("desa_code", CODE, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_campaign_reach_item")),
    )
    op.create_index("ix_campaign_reach_item_campaign_id", "campaign_reach_item", ["campaign_id"])
    op.create_table(
        "campaign_reach_kim",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("kim_id", sa.BigInteger(), nullable=False),
        sa.Column("desa_code", CODE, nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE",
                                name=op.f("fk_campaign_reach_kim_campaign_id_campaign")),
        sa.PrimaryKeyConstraint("campaign_id", "kim_id", "desa_code", name=op.f("pk_campaign_reach_kim")),
    )
    op.create_table(
        "campaign_reach_region",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("code", CODE, nullable=False),
        sa.Column("depth", sa.SmallInteger(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("people", sa.BigInteger(), nullable=False),
        sa.Column("kims", sa.Integer(), nullable=False),
        sa.Column("desa", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE",
                                name=op.f("fk_campaign_reach_region_campaign_id_campaign")),
        sa.PrimaryKeyConstraint("campaign_id", "code", name=op.f("pk_campaign_reach_region")),
    )
    op.create_index("ix_campaign_reach_region_depth", "campaign_reach_region", ["campaign_id", "depth", "code"])
    op.create_table(
        "campaign_reach_day",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("people", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE",
                                name=op.f("fk_campaign_reach_day_campaign_id_campaign")),
        sa.PrimaryKeyConstraint("campaign_id", "day", name=op.f("pk_campaign_reach_day")),
    )
    op.execute(FUNCTIONS)
    op.execute("CREATE TRIGGER campaign_reach_dissemination AFTER INSERT OR DELETE OR UPDATE ON campaign_dissemination "
               "FOR EACH ROW EXECUTE FUNCTION campaign_reach_dissemination_trigger()")
    op.execute("CREATE TRIGGER campaign_reach_activity AFTER UPDATE OF status, pending_action, desa_code, "
               "activity_date, reach_offline, kim_id ON activity FOR EACH ROW "
               "EXECUTE FUNCTION campaign_reach_activity_trigger()")
    op.execute("CREATE TRIGGER campaign_reach_kim AFTER UPDATE OF status, desa_code ON kim FOR EACH ROW "
               "WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.desa_code IS DISTINCT FROM NEW.desa_code) "
               "EXECUTE FUNCTION campaign_reach_kim_trigger()")
    op.execute("SELECT campaign_reach_rebuild()")


def downgrade():
    op.execute("DROP TRIGGER campaign_reach_kim ON kim; DROP TRIGGER campaign_reach_activity ON activity; "
               "DROP TRIGGER campaign_reach_dissemination ON campaign_dissemination")
    op.execute("DROP FUNCTION campaign_reach_rebuild(); DROP FUNCTION campaign_reach_kim_trigger(); "
               "DROP FUNCTION campaign_reach_activity_trigger(); DROP FUNCTION campaign_reach_dissemination_trigger(); "
               "DROP FUNCTION campaign_reach_sync(bigint); "
               "DROP FUNCTION campaign_reach_apply(campaign_reach_item, integer)")
    op.drop_table("campaign_reach_day")
    op.drop_table("campaign_reach_region")
    op.drop_table("campaign_reach_kim")
    op.drop_table("campaign_reach_item")
