"""Error pages in HTML, and JSON error bodies under /api."""
import logging

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from kim_platform.core.api_errors import CSRF_FAILED, SERVICE_UNAVAILABLE, api_error_response, json_error
from kim_platform.core.domain import DomainError

log = logging.getLogger(__name__)
security_log = logging.getLogger("kim_platform.security")

TITLES = {
    400: _l("Bad request"),
    401: _l("Please log in"),
    403: _l("Access denied"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("Upload too large"),
    422: _l("Invalid data"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
    503: _l("Service temporarily unavailable"),
}
MESSAGES = {
    400: _l("The request could not be understood. Check the address or the form and try again."),
    401: _l("You need to log in to see this page."),
    403: _l("You do not have permission to do this."),
    404: _l("The page you are looking for does not exist or has moved."),
    405: _l("This address does not accept that kind of request."),
    409: _l("The change conflicts with one saved at the same moment. Nothing was saved; reload and try again."),
    413: _l("The data sent is larger than allowed."),
    422: _l("Some of the data sent is not valid."),
    429: _l("Too many attempts. Please wait a moment and try again."),
    500: _l("An unexpected error happened on our side. It has been logged; please try again later."),
    503: _l("The service is temporarily unavailable. Please try again in a moment."),
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    if status == 500 and limits_unavailable(getattr(error, "original_exception", None)):
        # The limit was checked, then Redis went away before Flask-Limiter's after_request read the
        # headers' figures: that exception reaches Flask outside the view, as this 500.
        return handle_limits_unavailable(error.original_exception)
    if status == 403:
        security_log.warning("403 for user %s on %s %s", getattr(current_user, "id", None),
                             request.method, request.path)
    message = str(MESSAGES.get(status, error.description or ""))
    code = None
    if isinstance(error, CSRFError):
        message = str(_l("The form has expired or was sent from another site. Reload the page and try again."))
        # Its own code, so a client can tell "take a fresh token and send again" (the outbox does,
        # static/js/outbox.js) from input at fault: two requests of one browser answered at once
        # can leave the session holding another token than the one just handed out.
        code = CSRF_FAILED
    if wants_json():
        return api_error_response(error, message, code)
    data = getattr(error, "data", None) or {}
    detail = data.get("message") if isinstance(data, dict) else None
    response_headers = {}
    if status == 405 and error.get_response().headers.get("Allow"):
        response_headers["Allow"] = error.get_response().headers["Allow"]
    body = render_template(
        "errors/error.html",
        status=status,
        title=TITLES.get(status, error.name),
        message=message,
        detail=detail,
    )
    return body, status, response_headers


def handle_domain_error(error: DomainError):
    """A service's refusal no view caught: the API's error body, or the error page with its message.

    Pages that show a form catch it themselves and re-render the form."""
    status = error.http_status
    if wants_json():
        if status == 403:
            security_log.warning("403 for user %s on %s %s", getattr(current_user, "id", None),
                                 request.method, request.path)
        return json_error(status, str(error.message), error.field_messages(), getattr(error, "code", None))
    from werkzeug.exceptions import BadRequest, default_exceptions

    http_error = default_exceptions.get(status, BadRequest)()
    http_error.data = {"message": str(error.message)}
    return handle_http_exception(http_error)


def database_unavailable(error: Exception) -> bool:
    """The database went away (restart, crash, network): a 503 to retry, not a bug."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    return isinstance(error, (OperationalError, InterfaceError)) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


def handle_database_unavailable(error: Exception, what: str = "Database"):
    """503 with Retry-After. The page is rendered without the base layout, which would ask the
    database who is logged in; the pool's pre-ping reconnects on the next request."""
    log.warning("%s unavailable on %s %s: %s", what, request.method, request.path,
                (str(error).splitlines() or [type(error).__name__])[0])
    headers = {"Retry-After": "5"}
    if wants_json():
        from werkzeug.exceptions import ServiceUnavailable

        response = api_error_response(ServiceUnavailable(), str(MESSAGES[503]))
        response.headers.update(headers)
        return response
    from flask import current_app

    from kim_platform.core.i18n import current_locale

    # Straight from the Jinja environment: context processors (the demo banner) query the database.
    page = current_app.jinja_env.get_template("errors/unavailable.html").render(
        title=TITLES[503], message=MESSAGES[503], current_locale=current_locale())
    return page, 503, headers


LIMITS_UNAVAILABLE_MESSAGE = _l("The service is busy or unavailable right now. Nothing was changed; "
                                "please try again in a moment.")
LIMITS_RETRY_AFTER_S = 5


def limits_unavailable(error) -> bool:
    """The rate limits' storage (Redis, KIM_RATELIMIT_STORAGE_URI) could not be asked.

    core/auth.py has Flask-Limiter raise every storage failure as limits' StorageError, and never
    swallow it or fall back to per-process memory: a throttled action (login, registration, password
    reset, every posting action) must not run without its limits."""
    from limits.errors import StorageError

    return isinstance(error, StorageError)


def handle_limits_unavailable(error: Exception):
    """503 with Retry-After for a throttled action whose limits could not be checked. The limit is
    checked before the view runs, and the request's transaction is rolled back on any error answer
    (core/transaction.py), so nothing of the refused action is written. The offline outbox
    (static/js/outbox.js) keeps the report and sends it again later."""
    from kim_platform.core.auth import limiter

    # The answer carries no limit headers: Flask-Limiter's after_request would ask the storage again.
    limiter.context.reset()
    cause = getattr(error, "storage_error", error)
    log.warning("Rate-limit storage unavailable on %s %s: %s", request.method, request.path,
                str(cause).splitlines()[0] if str(cause) else type(cause).__name__)
    headers = {"Retry-After": str(LIMITS_RETRY_AFTER_S)}
    message = str(LIMITS_UNAVAILABLE_MESSAGE)
    if wants_json():
        response = json_error(503, message, code=SERVICE_UNAVAILABLE)
        response.headers.update(headers)
        return response
    body = render_template("errors/error.html", status=503, title=TITLES[503], message=message, detail=None)
    return body, 503, headers


# unique, foreign key and exclusion violations: another request changed the same rows first
CONFLICT_SQLSTATES = frozenset({"23505", "23503", "23P01"})


def is_conflict(error: Exception) -> bool:
    from sqlalchemy.exc import IntegrityError

    return isinstance(error, IntegrityError) and getattr(error.orig, "pgcode", None) in CONFLICT_SQLSTATES


def handle_conflict(error: Exception):
    """409: a concurrent change won the race; nothing of this request was saved."""
    from werkzeug.exceptions import Conflict

    from kim_platform.core import transaction

    transaction.recover_session()  # the failed flush left the session unusable for the page
    log.warning("Conflict on %s %s: %s", request.method, request.path, str(error).splitlines()[0])
    return handle_http_exception(Conflict())


def handle_storage_unavailable(error: Exception):
    """The file store is away (core/storage.StorageUnavailable): the same 503 as a lost database.
    The request's transaction rolls back at the edge, so an upload saves nothing."""
    return handle_database_unavailable(error, "File storage")


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if database_unavailable(error):
        return handle_database_unavailable(error)
    if limits_unavailable(error):
        return handle_limits_unavailable(error)
    if is_conflict(error):
        return handle_conflict(error)
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return handle_http_exception(InternalServerError())


def remove_session_quietly(exc) -> None:
    """End the request's session before Flask-SQLAlchemy's own teardown (teardowns run in reverse
    order), tolerating a connection the database dropped: closing it rolls back, which raises after
    a restart, and an exception here would turn an answered request into a gunicorn 500."""
    from sqlalchemy.exc import DBAPIError

    from kim_platform.extensions import db

    try:
        db.session.remove()
    except DBAPIError as error:
        log.warning("Session closed on a lost connection: %s", str(error).splitlines()[0])
        db.session.registry.clear()


def init_app(app) -> None:
    app.teardown_appcontext(remove_session_quietly)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    from kim_platform.core.storage import StorageUnavailable

    app.register_error_handler(StorageUnavailable, handle_storage_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
