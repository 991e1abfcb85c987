"""The audit log: who did what to which object, when, with before and after."""


def init_app(app) -> None:
    """Audit entries are scoped by region code: the scope follows a region to its new code, so the
    pembina of the new code reads its history (the entries' before/after keep the old values)."""
    from flask_babel import lazy_gettext as _l

    from kim_platform.regions.references import register_reference

    register_reference(app, "audit_scopes", "audit_entry", "scope_code", kind="any-level",
                       label=_l("Audit entries"))
