"""Coverage: which regions have (active) KIMs, exact to the desa."""


def init_app(app) -> None:
    """A new Kepmendagri re-codes KIMs and reports in bulk (regions.changes): the per-row triggers
    are off while it does, and every aggregate is recomputed once at the end, in its transaction."""
    from kim_platform.coverage.aggregates import disable_triggers, enable_triggers_and_rebuild
    from kim_platform.regions.references import register_apply_hook

    register_apply_hook(app, "coverage.aggregates", before=disable_triggers, after=enable_triggers_and_rebuild)
