"""The installable offline app's shell: the web app manifest, the service worker (/sw.js, root
scope), the "needs a connection" page it falls back to, and the outbox page (Kotak keluar).

The outbox itself lives in the volunteer's browser (IndexedDB, static/js/outbox.js); these pages
are server-rendered shells whose strings come from the catalogue, filled by JavaScript. They show
nothing of the visitor's data, so the service worker can precache them for everyone.
"""
import hashlib
from pathlib import Path

from flask import Blueprint, current_app, jsonify, make_response, render_template, request, url_for
from flask_babel import gettext as _

bp = Blueprint("offline", __name__)

# A copy the service worker keeps (it asks with ?shell=1 or this header): rendered without the
# session's traces (no flash messages taken, no user id, the menu of any logged-in member), and
# answered with SHELL_HEADER, the only HTML the worker stores.
SHELL_PARAM = "shell"
SHELL_REQUEST_HEADER = "X-Offline-Shell"
SHELL_HEADER = "X-Kim-Shell"


def is_shell_request() -> bool:
    """True when this page is rendered for the service worker's cache, not for the person."""
    return request.args.get(SHELL_PARAM) == "1" or request.headers.get(SHELL_REQUEST_HEADER) == "1"


@bp.app_template_global()
def offline_shell() -> bool:
    """Templates: leave out everything that belongs to the session (base.html, the report form)."""
    return is_shell_request()


@bp.after_app_request
def mark_shells(response):
    """A shell says so (the worker keeps nothing else) and is never stored by an HTTP cache."""
    if response.mimetype == "text/html" and is_shell_request():
        response.headers[SHELL_HEADER] = "1"
        response.headers["Cache-Control"] = "no-store"
        response.vary.add(SHELL_REQUEST_HEADER)
    return response

# Workbox modules the service worker uses (each vendored as workbox-<name>.prod.js).
WORKBOX_MODULES = ("core", "routing", "strategies", "precaching", "expiration")
# Scripts the service worker imports besides Workbox: the outbox and its sync engine.
WORKER_SCRIPTS = ("vendor/idb/umd.js", "js/outbox.js")


def _files_digest() -> str:
    """The contents of the static files (their hashed names, core/assets.py) and of the shell's
    templates. Contents, not file times: every node of a cluster, and every fresh checkout of one
    release, must announce the same version, or browsers would reinstall the worker at each hop."""
    digest = hashlib.sha256()
    manifest = current_app.extensions.get("static_manifest")
    if manifest is not None and not current_app.debug:
        names = sorted(asset.hashed for asset in manifest.by_path.values())
    else:  # debugging: files change under a running server
        static = Path(current_app.static_folder)
        names = [f"{p.relative_to(static)}:{hashlib.sha256(p.read_bytes()).hexdigest()}"
                 for p in sorted(static.rglob("*")) if p.is_file()]
    digest.update("\n".join(names).encode())
    templates = Path(current_app.root_path).parent / "templates"
    for path in sorted([*(templates / "offline").iterdir(), templates / "base.html"]):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def app_version() -> str:
    """Changes whenever a static file, a template of the app's shell or OFFLINE_APP_VERSION does, so
    a deploy installs a new service worker, which refreshes its precache and its asset cache.
    Browsers ask for /sw.js on every navigation: the files are read once per process (on every
    request while debugging, when they change under a running server)."""
    files = current_app.extensions.get("offline_files_digest")
    if files is None or current_app.debug:
        files = current_app.extensions["offline_files_digest"] = _files_digest()
    key = f"{files}:{current_app.config.get('OFFLINE_APP_VERSION', '')}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest: installable, standalone, in Bahasa Indonesia, opening the outbox."""
    icon = lambda name, size, purpose="any": {  # noqa: E731
        "src": url_for("static", filename=f"icons/{name}"), "sizes": size, "type": "image/png", "purpose": purpose}
    body = {
        "name": _("KIM Platform"),
        "short_name": _("KIM"),
        "description": _("Report your KIM's activities, also without a signal."),
        "lang": "id",
        "dir": "ltr",
        "id": "/",
        "start_url": url_for("offline.outbox"),  # precached: the app opens offline too
        "scope": "/",
        "display": "standalone",
        "background_color": "#f6f8f7",
        "theme_color": "#0b6e4f",
        "icons": [icon("icon-192.png", "192x192"), icon("icon-512.png", "512x512"),
                  icon("icon-maskable-512.png", "512x512", "maskable")],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw.js")
def service_worker():
    """The service worker, rendered so that every URL in it comes from url_for; never cached by
    HTTP caches (a stale worker would keep an old app alive), valid for the whole site."""
    static = lambda filename: url_for("static", filename=filename)  # noqa: E731
    prefix = static("vendor/workbox/")
    modules = {f"workbox-{name}": static(f"vendor/workbox/workbox-{name}.prod.js") for name in WORKBOX_MODULES}
    body = render_template(
        "offline/sw.js", version=app_version(),
        workbox=static("vendor/workbox/workbox-sw.js"), workbox_prefix=prefix, modules=modules,
        modules_hashed=any(url != f"{prefix}{name}.prod.js" for name, url in modules.items()),
        static_prefix=current_app.static_url_path.rstrip("/") + "/",
        scripts=[static(name) for name in WORKER_SCRIPTS],
        # Only what the offline report needs: the outbox and "needs a connection" shells, and what
        # every page asks for (the manifest, the icon); the report
        # forms, the reporting data and their assets come from warm() once a member is logged in.
        precache=[url_for("offline.outbox", shell=1), url_for("offline.needs_connection", shell=1),
                  url_for("offline.manifest"), url_for("core.favicon")],
        outbox_url=url_for("offline.outbox"), offline_url=url_for("offline.needs_connection"),
        shell_header=SHELL_HEADER, shell_request_header=SHELL_REQUEST_HEADER,
        reporting_url="/api/v1/me/reporting")
    response = make_response(body)
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/luring")
def needs_connection():
    """What the service worker shows, offline, for a page it has not kept."""
    return render_template("offline/needs_connection.html")


@bp.get("/kotak-keluar")
def outbox():
    """Kotak keluar: the reports waiting in this browser, filled in by static/js/outbox-page.js."""
    return render_template("offline/outbox.html")


def _strings() -> dict:
    """Every word the offline app's scripts show, from the catalogue ({n}-style slots are filled in JS)."""
    return {
        "states": {
            "waiting": _("waiting for a signal"),
            "sending": _("sending"),
            "sending_photo": _("sending (photo %(n)s of %(total)s)", n="{n}", total="{total}"),
            "sent": _("sent"),
            "invalid": _("needs fixing"),
            "auth": _("log in again"),
        },
        "view": _("View the report"),
        "view_aspiration": _("View the item"),
        "kinds": {"report": _("Activity report"), "aspiration": _("Aspiration / hoax report")},
        "fix": _("Fix"),
        "login": _("Log in"),
        "photos": _("%(n)s photos", n="{n}"),
        "written": _("written on this device %(time)s", time="{time}"),
        "sent_at": _("sent %(time)s", time="{time}"),
        "untitled": _("(no title)"),
        "other_account": _("Written while logged in with another account: log in with that account to send it."),
        "others_waiting": _("%(n)s reports written with another account are kept on this device: they are sent "
                            "when that account logs in here again.", n="{n}"),
        "problems": {
            "photos_missing": _("This report has fewer photos than it announced: choose the missing photos."),
        },
        "offline": _("No signal: the reports wait here and are sent when the connection returns."),
        "retry": _("The connection dropped; trying again shortly."),
        "persist_granted": _("This browser has promised to keep the outbox, even when the phone runs low on "
                             "storage."),
        "persist_denied": _("The browser did not promise to keep the outbox: if the phone runs out of storage, "
                            "it may delete reports that have not been sent yet. Send them as soon as you have a "
                            "signal, and do not clear the browser's data."),
        "saving": _("Shrinking the photos and saving the report on this device…"),
        "saved": _("Saved in the outbox."),
        "save_failed": _("This device could not save the report (is its storage full?). Nothing was lost: "
                         "the form is still filled in."),
        "fixing": _("You are fixing a report from the outbox: correct it and send it again."),
        "kept_photos": _("%(n)s photos are kept from the outbox; choose new ones only to replace them.", n="{n}"),
        "incomplete": _("photos incomplete (%(k)s of %(n)s)", k="{k}", n="{n}"),
        "report_for": _("Report an activity for %(name)s", name="{name}"),
        "fields": {
            "title": _("What did you do?"), "date": _("Date"), "type": _("Type"),
            "late_reason": _("Reason, if the activity was more than a year ago"),
            "photos": _("Photos (up to 6)"), "photo": _("Photos (up to 6)"), "description": _("Description"),
            "reach_offline": _("People reached in person"), "reach_online": _("Online reach (views, likes)"),
            "links": _("Links to the posts on social media (one per line)"),
            "tags": _("Tags, e.g. the government programme disseminated (comma-separated)"),
            "desa_code": _("Desa/kelurahan code"), "lat": _("Latitude"), "lon": _("Longitude"),
        },
        # The aspiration form's fields (issue 18), for the errors of an aspiration in the outbox.
        "aspiration_fields": {
            "kind": _("Kind"), "topic": _("Topic"), "desa_code": _("Desa/kelurahan code (default: the KIM's)"),
            "description": _("What did the residents raise?"), "residents_count": _("How many residents raised it"),
            "links": _("Links (one per line)"), "resident_name": _("Name"),
            "resident_contact": _("Contact (phone or WhatsApp)"), "hoax_claim": _("The claim as heard"),
            "hoax_channel": _("Where it circulated"), "hoax_link": _("Link to the post (if any)"),
            "photos": _("Evidence: photos or screenshots (at most 4)"),
            "photo": _("Evidence: photos or screenshots (at most 4)"),
            "photo_count": _("Evidence: photos or screenshots (at most 4)"), "kim_id": _("KIM"),
        },
    }


@bp.app_template_global()
def outbox_strings():
    """The offline app's strings as a JSON block (id "outbox-strings") for the page's scripts."""
    from markupsafe import Markup

    return Markup(render_template("offline/_strings.html", strings=_strings(),
                                  outbox_url=url_for("offline.outbox")))
