"""Main navigation; sections that are not built yet show as "coming soon" instead of a dead link."""
from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l

NAV_ITEMS = [
    (_l("Map"), "maps.national_map", "/peta"),
    (_l("KIM"), "kims.index", "/kim"),
    (_l("Activities"), "activities.index", "/kegiatan"),
    (_l("Coverage"), "coverage.index", "/cakupan"),
    (_l("Model KIMs"), "teladan.index", "/teladan"),
    (_l("Regions"), "regions.index", "/wilayah"),
]
LOGIN_ITEM = (_l("Log in"), "accounts.login", "/masuk")
ACCOUNT_ITEM = (_l("My account"), "accounts.profile", "/akun")


def navigation():
    """(label, url or None, active) for each section of the main menu."""
    items = []
    from flask_login import current_user

    from kim_platform.core.offline import is_shell_request

    # A page kept by the service worker shows the menu of any logged-in member, not the installer's.
    last = ACCOUNT_ITEM if current_user.is_authenticated or is_shell_request() else LOGIN_ITEM
    for label, endpoint, prefix in NAV_ITEMS + [last]:
        available = endpoint in current_app.view_functions
        url = url_for(endpoint) if available else None
        active = request.path == prefix or request.path.startswith(prefix + "/")
        items.append({"label": label, "url": url, "active": active})
    return items


def init_app(app) -> None:
    @app.context_processor
    def inject_navigation():
        return {"navigation": navigation}
