"""Campaign targets and owner scopes as region references (regions.references)."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import text


def remap_targets(connection) -> int:
    """Re-code the targets; a merge that would name one region twice in a campaign keeps one row."""
    connection.execute(text("""
        DELETE FROM campaign_target t USING region_remap m
        WHERE t.region_code = m.old_code AND EXISTS (
            SELECT 1 FROM campaign_target o LEFT JOIN region_remap om ON om.old_code = o.region_code
            WHERE o.campaign_id = t.campaign_id AND o.region_code <> t.region_code
              AND coalesce(om.new_code, o.region_code) = m.new_code
              AND (om.old_code IS NULL OR o.region_code < t.region_code))"""))
    return connection.execute(text(
        "UPDATE campaign_target t SET region_code = m.new_code FROM region_remap m "
        "WHERE t.region_code = m.old_code")).rowcount


# The triggers that keep the reach totals (campaign_reach_*) and the target totals
# (campaign_target_total) per region prefix.
# The reach rebuild would fire the "reached" triggers once per region only for the target rebuild
# to overwrite them: they stay off too.
REACH_TRIGGERS = (("campaign_dissemination", "campaign_reach_dissemination"),
                  ("activity", "campaign_reach_activity"), ("kim", "campaign_reach_kim"),
                  *(("campaign_target", f"campaign_target_total_{event}") for event in ("insert", "update", "delete")),
                  *(("kim", f"campaign_target_kim_{event}") for event in ("insert", "update", "delete")),
                  *(("campaign_reach_region", f"campaign_target_reached_{event}")
                    for event in ("insert", "update", "delete")))


def pause_reach_totals(connection) -> None:
    """A decree re-codes reports, KIMs and targets in bulk: the reach and target triggers stay off
    meanwhile."""
    for table, trigger in REACH_TRIGGERS:
        connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}"))


def rebuild_reach_totals(connection) -> None:
    """...and both totals are recomputed once, under the new codes (retired regions drop out of the
    targets' rows), in the apply's transaction."""
    for table, trigger in REACH_TRIGGERS:
        connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}"))
    connection.execute(text("SELECT campaign_reach_rebuild()"))
    connection.execute(text("SELECT campaign_target_rebuild()"))


def register(app) -> None:
    from kim_platform.regions.references import register_apply_hook, register_reference

    register_apply_hook(app, "campaigns.reach_totals", before=pause_reach_totals, after=rebuild_reach_totals)

    register_reference(app, "campaign_targets", "campaign_target", "region_code", kind="any-level",
                       label=_l("Campaign targets"), remap=remap_targets)
    register_reference(app, "campaign_owners", "campaign", "owner_scope", kind="scope",
                       label=_l("Campaign owners"))
