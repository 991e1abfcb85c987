"""The language toggle and /favicon.ico (the home page is regions.views.home: it lists provinces)."""
from flask import Blueprint, current_app, redirect, request, send_from_directory, url_for

from kim_platform.core.i18n import LANG_COOKIE
from kim_platform.core.urls import safe_next_url

bp = Blueprint("core", __name__)


@bp.get("/favicon.ico")
def favicon():
    """The icon browsers and feed readers ask for at the root, whatever the page links."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=7 * 24 * 3600)


@bp.get("/bahasa/<lang>")
def set_language(lang: str):
    """Remember the interface language in a cookie and go back where the visitor was."""
    if lang not in current_app.config["LANGUAGES"]:
        lang = current_app.config["BABEL_DEFAULT_LOCALE"]
    target = safe_next_url(request.args.get("next")) or url_for("home.home")
    response = redirect(target)
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response
