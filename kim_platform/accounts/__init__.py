"""Accounts: people, their sessions and API tokens, and the region-scoped roles they hold."""


def init_app(app) -> None:
    """Accounts' login wiring on core's hooks: who a session cookie or a Bearer token belongs to,
    which browsers are known devices, and the templates' `can` helper for the current user."""
    from flask_login import current_user

    from kim_platform import permissions
    from kim_platform.accounts import services
    from kim_platform.core import auth, throttle

    auth.register_credential_loaders(app, session_token=services.user_for_session_token,
                                     api_token=services.user_for_api_token)
    throttle.register_device_lookup(app, services.known_device)
    _register_region_references(app)

    @app.context_processor
    def inject_permissions():
        return {"can": lambda action, obj=None: permissions.can(current_user, action, obj)}


def _register_region_references(app) -> None:
    """A pembina's scope follows its region to a new code (regions.references); one grant per
    user and role, so a merge cannot duplicate a grant."""
    from flask_babel import lazy_gettext as _l

    from kim_platform.regions.references import register_reference

    register_reference(app, "pembina_scopes", "role_grant", "scope_code", kind="scope", label=_l("Pembina scopes"))
