"""Authentication plumbing: Flask-Login (cookie logins and Bearer tokens), CSRF, rate limits.

Core knows no users: it reads the session cookie and the Bearer token and hands them to the
credential loaders a domain registers (`register_credential_loaders`, called by
`accounts.init_app`); without them every request is anonymous.
"""
import logging

from flask import abort, current_app, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect, _FlaskFormCSRF
from wtforms import HiddenField
from wtforms.csrf.core import CSRFTokenField

from kim_platform.core.replica import on_primary
from kim_platform.core.urls import safe_next_url

security_log = logging.getLogger("kim_platform.security")

login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class _LazyCSRFTokenField(CSRFTokenField):
    """The CSRF field, whose token is made when the form is rendered, not when it is built."""

    def process(self, *args, **kwargs):
        HiddenField.process(self, *args, **kwargs)

    def _value(self):
        if self.current_token is None:
            self.current_token = self.csrf_impl.generate_csrf_token(self)
        return self.current_token


class LazyFormCSRF(_FlaskFormCSRF):
    """Flask-WTF's form CSRF, except that building a form writes nothing: a token put into the
    session made every anonymous visitor of a page with a (hidden) button get a session cookie.
    Use as `class Meta: csrf_class = LazyFormCSRF` on forms that pages build for anyone."""

    field_class = _LazyCSRFTokenField


def submitted_email() -> str | None:
    """The email a form or JSON body names (lower-cased), or None."""
    email = request.form.get("email")
    if email is None:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    if isinstance(email, str) and email.strip():
        return email.strip().lower()[:254]
    return None


def submitted_email_key() -> str:
    """Rate-limit key for the account being tried: the submitted email, else the address."""
    email = submitted_email()
    return "account:" + email if email else "ip:" + get_remote_address()


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


CREDENTIAL_LOADERS = "kim_credential_loaders"


def register_credential_loaders(app, *, session_token, api_token) -> None:
    """Who a credential belongs to: `session_token(token)` for the login cookie and
    `api_token(secret)` for a Bearer token each return the user, or None."""
    app.extensions[CREDENTIAL_LOADERS] = {"session": session_token, "api": api_token}


def _load(kind: str, credential: str):
    """Credentials are read on the primary (core/replica.py): a login row written a moment ago is
    found, and a logout or a password change elsewhere ends the old login at once."""
    loader = current_app.extensions.get(CREDENTIAL_LOADERS, {}).get(kind)
    if loader is None:
        return None
    with on_primary():
        return loader(credential)


_INDEPENDENT_OF_SESSION = "kim_independent_of_session"


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, except that an answer marked `independent_of_session`
    gets no `Vary: Cookie` for a mere look at the session: Flask-Login peeks at it after every
    request, and with the Vary a browser fetched public, immutable photos again whenever the
    session cookie had changed. A session that was changed is still saved (and varies)."""

    def open_session(self, app, request):
        """No cookie, no signing serializer: most requests (anonymous API reads) carry none, and
        building the serializer was most of what opening their empty session cost."""
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if getattr(response, _INDEPENDENT_OF_SESSION, False) and not session.modified:
            session.accessed = False
        if not session and not session.modified:
            # What Flask's save_session does for an empty, unchanged session, without first
            # reading the seven cookie settings it would not use.
            if session.accessed:
                response.vary.add("Cookie")
            return None
        return super().save_session(app, session, response)


def independent_of_session(response):
    """Mark an answer that was decided without the session (a public stored file)."""
    setattr(response, _INDEPENDENT_OF_SESSION, True)
    return response


def limit_storage_options(uri: str | None) -> dict:
    """Options of the limits' storage: every failure of a Redis storage raised as limits'
    StorageError (the one exception core/errors.py answers with a 503), with the waits of
    core/redis.py, so a Redis that is down or hung costs a throttled request at most seconds."""
    if not uri or not uri.startswith(("redis", "valkey")):
        return {}
    return {"wrap_exceptions": True, "socket_connect_timeout": 0.5, "socket_timeout": 2.0}


def init_app(app) -> None:
    app.session_interface = CookieSessionInterface()
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to open this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # logins live in login_session rows instead
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", limit_storage_options(app.config.get("RATELIMIT_STORAGE_URI")))
    limiter.init_app(app)

    @login_manager.user_loader
    def load_user_from_session(token: str):
        # A Bearer token, when given, is the credential of an API request, not the cookie.
        if _bearer_token() and request.path.startswith("/api/"):
            return None
        return _load("session", token)

    @login_manager.request_loader
    def load_user_from_bearer(req):
        token = _bearer_token()
        return _load("api", token) if token else None

    @login_manager.unauthorized_handler
    def unauthorized():
        if request.path.startswith("/api/"):
            abort(401)
        target = safe_next_url(request.full_path.rstrip("?")) if request.method == "GET" else None
        return redirect(url_for("accounts.login", next=target))

    @app.before_request
    def authenticate_and_protect():
        """Bearer tokens must be valid when given; cookie-authenticated writes need CSRF."""
        token = _bearer_token()
        if token and request.path.startswith("/api/") and not current_user.is_authenticated:
            abort(401, description="invalid token")
        if request.method not in UNSAFE_METHODS:
            return
        if request.path.startswith("/api/"):
            # A Bearer token is not sent by browsers on their own; a cookie is.
            if current_user.is_authenticated and not current_user.via_api_token:
                csrf.protect()
            return
        csrf.protect()
