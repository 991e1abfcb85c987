"""The language toggle, /favicon.ico, the load balancer's health check and the node's name
(the home page is regions.views.home: it lists provinces)."""
from flask import Blueprint, current_app, jsonify, redirect, request, send_from_directory, url_for
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from kim_platform.core.i18n import LANG_COOKIE
from kim_platform.core.urls import safe_next_url
from kim_platform.extensions import db

bp = Blueprint("core", __name__)

NODE_HEADER = "X-Kim-Node"


@bp.get("/favicon.ico")
def favicon():
    """The icon browsers and feed readers ask for at the root, whatever the page links."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=7 * 24 * 3600)


@bp.get("/healthz")
def healthz():
    """200 while this node can answer from its database, else 503: what a load balancer (or
    scripts/cluster.sh waiting for a node) asks: one `SELECT 1`, rolled back at the edge like every
    GET, and no template."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        current_app.logger.warning("health check: the database does not answer", exc_info=True)
        response = jsonify(status="unavailable")
        response.status_code = 503
    else:
        response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_app_request
def name_the_node(response):
    """X-Kim-Node: which app node answered (KIM_NODE_NAME), only when the node has a name."""
    name = current_app.config.get("NODE_NAME")
    if name:
        response.headers[NODE_HEADER] = name
    return response


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
