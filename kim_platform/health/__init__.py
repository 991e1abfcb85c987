"""KIM health (issue 19): which KIMs still work. A state computed daily with its reasons (aktif,
perlu pendampingan, vakum), SK validity and reminders, pengurus, the yearly data confirmation, and
"Perlu perhatian" for the pembina with their contact notes and a monthly digest."""


def init_app(app) -> None:
    """Fill the slots of the pages below (core.slots): the state on the KIM profile and its
    follow-up for the pembina, the `health` filter of the KIM list, the states per region in
    coverage, the health filter of the map's KIM tiles; register the daily tasks."""
    from kim_platform.core.jobs import daily_task
    from kim_platform.health import panels, queries, services
    from kim_platform.health.models import reason_label, state_label
    from kim_platform.kims.slots import LIST_FILTERS, PROFILE, PROFILE_SUMMARY, REGION_HEALTH
    from kim_platform.maps.slots import TILE_FILTERS
    from kim_platform.regions.references import register_apply_hook

    app.jinja_env.globals.update(health_label=state_label)
    app.jinja_env.filters["health_reason"] = reason_label
    PROFILE_SUMMARY.register(app, "health.state", panels.kim_health, order=5, template="health/_kim_summary.html")
    PROFILE.register(app, "health.follow_up", panels.kim_follow_up, order=50,
                     template="health/_kim_follow_up.html")
    LIST_FILTERS.register(app, "health.state", queries.state_condition)
    REGION_HEALTH.register(app, "health.by_region", queries.region_states)
    TILE_FILTERS.register(app, "health.state", queries.tile_condition)
    # A new Kepmendagri re-codes KIMs: their states are counted again under the new codes.
    register_apply_hook(app, "health.region_states", after=queries.rebuild_region_states)
    daily_task(app, "health.states", 10, lambda day: f"{services.compute_daily(day)} KIM health states")
    daily_task(app, "health.sk_reminders", 20, _reminders)
    daily_task(app, "health.monthly_digest", 30, _digests)


def _reminders(day):
    from kim_platform.health.services import send_sk_reminders

    outgoing = send_sk_reminders(day)
    return f"{len(outgoing)} SK reminders", outgoing


def _digests(day):
    """Due on the month's first run; the (pembina, month) claim makes every later run send nothing."""
    from kim_platform.health.services import send_monthly_digests

    outgoing = send_monthly_digests(day)
    return f"{len(outgoing)} monthly health digests", outgoing
