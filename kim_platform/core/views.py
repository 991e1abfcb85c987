"""Home page, the language toggle and /favicon.ico."""
from flask import Blueprint, current_app, redirect, render_template, request, send_from_directory, url_for

from kim_platform.core.i18n import LANG_COOKIE
from kim_platform.core.urls import safe_next_url
from kim_platform.regions.queries import provinces

bp = Blueprint("core", __name__)


@bp.get("/")
def home():
    """Landing page: what the platform is, and a way into the regions."""
    return render_template("core/home.html", provinces=provinces())


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
    target = safe_next_url(request.args.get("next")) or url_for("core.home")
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
