"""Language choice: Bahasa Indonesia by default, English on a toggle (cookie `lang`)."""
from datetime import timezone

from flask import current_app, g, has_request_context, request

from kim_platform.extensions import babel

LANG_COOKIE = "lang"


def select_locale() -> str:
    """?lang= for one request, else the saved choice, else Indonesian."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and background work
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    for candidate in (request.args.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in languages:
            return candidate
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def current_locale() -> str:
    if "locale" not in g:
        g.locale = select_locale()
    return g.locale


def init_app(app) -> None:
    babel.init_app(
        app,
        locale_selector=current_locale,
        default_translation_directories=str(app.root_path + "/translations"),
    )

    @app.template_filter("isoutc")
    def isoutc(moment):
        """RFC 3339 in UTC, for feeds and machine-readable dates."""
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @app.context_processor
    def inject_locale():
        return {"current_locale": current_locale(), "languages": app.config["LANGUAGES"]}
