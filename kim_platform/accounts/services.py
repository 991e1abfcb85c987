"""Account operations shared by the pages, the API and the CLI. They flush; the edge commits."""
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_request_context
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.orm import joinedload

from kim_platform import permissions
from kim_platform.accounts import queries
from kim_platform.accounts.models import ROLES, ApiToken, LoginSession, RoleGrant, User
from kim_platform.accounts.passwords import hash_password, needs_rehash, password_problem, verify_password
from kim_platform.audit.services import record
from kim_platform.core.clock import utcnow
from kim_platform.core.domain import DomainError
from kim_platform.core.text import text_problem
from kim_platform.core.transaction import bookkeeping
from kim_platform.extensions import db
from kim_platform.regions.codes import is_valid_code, level_of
from kim_platform.regions.queries import get_region

security_log = logging.getLogger("kim_platform.security")

API_TOKEN_PREFIX = "kim_"


class AccountError(DomainError):
    """An account operation refused; `field` names the one input at fault, if any."""

    def __init__(self, message, field: str | None = None, status: int = 422):
        super().__init__(message, fields={field: message} if field else None, status=status)
        self.field = field


def _refuse_unless(allowed: bool, message) -> None:
    """403 for an operation the actor may not do (kim_platform.permissions decides)."""
    if not allowed:
        raise AccountError(message, status=403)


def _own_account(user) -> None:
    """Own-account operations need a person: not an anonymous visitor, not the system actor."""
    _refuse_unless(permissions.acts_for_own_account(user), _l("Log in to change your account."))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def normalise_whatsapp(number: str | None) -> str | None:
    """Indonesian habits (08…, 628…, +62 8…) to E.164 (+628…); None when empty.

    Raises AccountError for something that cannot be a phone number."""
    if number is None or not number.strip():
        return None
    digits = "".join(ch for ch in number if ch.isdigit())
    plus = number.strip().startswith("+")
    if not plus and digits.startswith("0"):
        digits = "62" + digits[1:]
    if len(digits) < 9 or len(digits) > 15 or digits.startswith("0"):
        raise AccountError(_l("Enter a valid WhatsApp number, e.g. 0812 3456 7890."), field="whatsapp")
    return "+" + digits


# --- registration and email verification ------------------------------------------------

@dataclass
class Registration:
    user: User | None  # None when the email already had an account
    email: str


def register(name: str, email: str, password: str, whatsapp: str | None = None) -> Registration:
    """Create an unverified account, or do nothing if the email is taken.

    Both outcomes look the same to the caller's client (no account enumeration); the
    mail sent afterwards differs: an activation link, or a note to the owner."""
    email = normalise_email(email)
    name = (name or "").strip()
    if not name:
        raise AccountError(_l("Enter your name."), field="name")
    if text_problem(name):
        raise AccountError(text_problem(name), field="name")
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise AccountError(problem, field="password")
    whatsapp = normalise_whatsapp(whatsapp)
    # Hashed in both cases: argon2 is most of the work, and skipping it for a taken address
    # would let the response time tell that the address has an account.
    password_hash = hash_password(password)
    if queries.user_by_email(email) is not None:
        return Registration(user=None, email=email)
    user = User(name=name, email=email, password_hash=password_hash, whatsapp=whatsapp)
    db.session.add(user)
    db.session.flush()
    return Registration(user=user, email=email)


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _password_fingerprint(user: User) -> str:
    # Changes with every new password hash (new salt), which makes reset links single-use.
    return sha256(user.password_hash)[:16]


def email_verification_token(user: User) -> str:
    return _serializer("verify-email").dumps({"u": user.id, "e": user.email})


def _signed_link_data(salt: str, token: str, max_age_setting: str) -> tuple[dict, User | None]:
    """The payload of a signed link and the user it names; ({}, None) when invalid or expired."""
    try:
        data = _serializer(salt).loads(token, max_age=current_app.config[max_age_setting])
    except (BadSignature, SignatureExpired):
        return {}, None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return {}, None
    return data, db.session.get(User, data["u"])


def verify_email(token: str) -> User | None:
    """Mark the address verified; None if the link is invalid or expired."""
    data, user = _signed_link_data("verify-email", token, "EMAIL_VERIFY_MAX_AGE")
    if user is None or user.email != data.get("e"):
        return None
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return user


def password_reset_token(user: User) -> str:
    return _serializer("reset-password").dumps({"u": user.id, "f": _password_fingerprint(user)})


def user_for_reset_token(token: str) -> User | None:
    """The user a reset link belongs to, if it is genuine, fresh and not used yet."""
    data, user = _signed_link_data("reset-password", token, "PASSWORD_RESET_MAX_AGE")
    if user is None or not user.is_active or data.get("f") != _password_fingerprint(user):
        return None
    return user


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    if user is None:
        raise AccountError(_l("This reset link is invalid, expired or already used."), status=400)
    _set_password(user, new_password)
    # Following the emailed link proves the address.
    user.email_verified_at = user.email_verified_at or utcnow()
    return user


# --- logging in and out ---------------------------------------------------------------

def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None. Same work whether or not the email exists."""
    user = queries.user_by_email(normalise_email(email))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def login_refusal(user: User):
    """Why a correctly authenticated user may still not log in, or None."""
    if not user.is_active:
        return _l("This account has been deactivated. Contact your pembina or the directorate.")
    if user.email_verified_at is None:
        return _l("Please confirm your email address first: open the link we sent you.")
    return None


def start_login_session(user: User, user_agent: str | None = None) -> str:
    """A new login for `user`; returns the token that goes (signed) into the cookie."""
    token = secrets.token_urlsafe(32)
    lifetime = current_app.config["LOGIN_SESSION_LIFETIME"]
    db.session.add(LoginSession(
        user_id=user.id, token_hash=sha256(token), expires_at=utcnow() + lifetime,
        user_agent=(user_agent or "")[:300] or None,
    ))
    db.session.flush()
    user.session_token = token
    return token


# --- known devices (OWASP "device cookies") ------------------------------------------------

MAX_DEVICE_ACCOUNTS = 5


def _account_tag(email: str) -> str:
    # Keyed, so the (readable) cookie does not reveal or confirm the address.
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"device:" + normalise_email(email).encode(), hashlib.sha256).hexdigest()[:32]


def _device_data(cookie: str | None) -> dict | None:
    if not cookie:
        return None
    try:
        data = _serializer("device").loads(
            cookie, max_age=int(current_app.config["DEVICE_COOKIE_LIFETIME"].total_seconds()))
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str) or not isinstance(data.get("a"), list):
        return None
    return data


def device_cookie(user: User, previous: str | None = None) -> str:
    """The signed device cookie after `user` logged in on this browser: the browser's id (kept
    from `previous` when that is genuine) and the last few accounts that logged in on it."""
    data = _device_data(previous) or {"n": secrets.token_urlsafe(12), "a": []}
    tag = _account_tag(user.email)
    accounts = [tag] + [a for a in data["a"] if a != tag]
    return _serializer("device").dumps({"n": data["n"], "a": accounts[:MAX_DEVICE_ACCOUNTS]})


def known_device(cookie: str | None, email: str | None) -> str | None:
    """The browser's id when `cookie` was set by a successful login to the account `email`."""
    data = _device_data(cookie)
    if data is None or not email:
        return None
    tag = _account_tag(email)
    return data["n"] if any(isinstance(a, str) and hmac.compare_digest(a, tag) for a in data["a"]) else None


def user_for_session_token(token: str) -> User | None:
    row = db.session.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == sha256(token), LoginSession.expires_at > utcnow(), User.is_active)
    ).first()
    if row is None:
        return None
    user = row.User
    user.session_token = token
    return user


def end_login_session(token: str | None) -> None:
    if token:
        db.session.execute(delete(LoginSession).where(LoginSession.token_hash == sha256(token)))


def _end_all_login_sessions(user: User, keep_token: str | None = None) -> None:
    stmt = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_token:
        stmt = stmt.where(LoginSession.token_hash != sha256(keep_token))
    db.session.execute(stmt)


# --- profile and password ------------------------------------------------------------

def _set_password(user: User, new_password: str) -> None:
    """Change the password and end every login and API token made with the old one."""
    problem = password_problem(new_password, email=user.email, name=user.name)
    if problem:
        raise AccountError(problem, field="password")
    user.password_hash = hash_password(new_password)
    _end_all_login_sessions(user)
    _revoke_all_api_tokens(user)
    security_log.info("password changed for user %s", user.id)


def change_password(user: User, current_password: str, new_password: str) -> str:
    """Check the current password, set the new one, and return a fresh login token."""
    _own_account(user)
    if not verify_password(user.password_hash, current_password):
        raise AccountError(_l("The current password is not correct."), field="current_password")
    _set_password(user, new_password)
    return start_login_session(user)


def update_profile(user: User, name: str, whatsapp: str | None) -> None:
    _own_account(user)
    name = (name or "").strip()
    if not name:
        raise AccountError(_l("Enter your name."), field="name")
    if text_problem(name):
        raise AccountError(text_problem(name), field="name")
    user.name = name[:120]
    user.whatsapp = normalise_whatsapp(whatsapp)


def set_active(actor: User, user: User, active: bool) -> None:
    """Deactivation ends every login and API token use at once (the directorate; not its own)."""
    _refuse_unless(permissions.can_set_active(actor), _l("You may not change this account."))
    if getattr(actor, "id", None) == user.id:
        raise AccountError(_l("You cannot deactivate your own account."), status=409)
    user.is_active = active
    if not active:
        _end_all_login_sessions(user)
        _revoke_all_api_tokens(user)
    record(actor, "user.activate" if active else "user.deactivate", "user", user.id,
           before={"active": not active}, after={"active": active})


# --- API tokens ------------------------------------------------------------------------

def create_api_token(user: User, label: str | None) -> tuple[ApiToken, str]:
    """A new token of the user's own; the plain value is returned once and never stored."""
    _own_account(user)
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, label=(label or "").strip()[:80] or "token",
                     token_hash=sha256(secret), prefix=secret[:12],
                     expires_at=utcnow() + current_app.config["API_TOKEN_LIFETIME"])
    db.session.add(token)
    db.session.flush()
    return token, secret


def user_for_api_token(secret: str) -> User | None:
    if not secret.startswith(API_TOKEN_PREFIX):
        return None
    # The user's role grants come in the same statement (every permission check reads them):
    # one round trip per API request instead of two.
    row = db.session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == sha256(secret), ApiToken.revoked_at.is_(None),
               ApiToken.expires_at > utcnow(), User.is_active)
        .options(joinedload(User.grants))
    ).unique().first()
    if row is None:
        return None
    # At most one write a minute per token, not one per request. Recorded after the request, in a
    # transaction of its own (a GET never commits; a refused POST rolls back), and never a wait:
    # concurrent requests of one token (an app syncing, a dashboard) skip a row another is writing.
    now = utcnow()
    if row.ApiToken.last_used_at is None or now - row.ApiToken.last_used_at > timedelta(minutes=1):
        token_id, cutoff = row.ApiToken.id, now - timedelta(minutes=1)

        def record_use():
            free = (select(ApiToken.id).where(ApiToken.id == token_id)
                    .where((ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at <= cutoff))
                    .with_for_update(skip_locked=True))
            db.session.execute(update(ApiToken).where(ApiToken.id.in_(free)).values(last_used_at=now)
                               .execution_options(synchronize_session=False))

        if has_request_context():
            bookkeeping(record_use)
        else:
            record_use()
    user = row.User
    user.via_api_token = True
    return user


def revoke_api_token(user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False when there is no such live token."""
    _own_account(user)
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if token is None:
        return False
    token.revoked_at = utcnow()
    return True


def _revoke_all_api_tokens(user: User) -> None:
    """Revoke every live token of `user` (new password, reset, deactivation)."""
    db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )


# --- roles -----------------------------------------------------------------------------

def _grant_snapshot(grant: RoleGrant) -> dict:
    return {"user_id": grant.user_id, "role": grant.role, "scope": grant.scope_code}


def grant_role(actor: User | None, user: User, role: str, scope_code: str | None) -> RoleGrant:
    """Give `user` a role, replacing a previous grant of the same role (e.g. a new scope).

    The command line passes `permissions.SYSTEM` (the directorate's authority); `None` is refused."""
    _refuse_unless(permissions.can_manage_roles(actor), _l("You may not manage users."))
    if role not in ROLES:
        raise AccountError(_l("Unknown role."), field="role")
    if role == "direktorat":
        scope_code = None
    else:
        scope_code = (scope_code or "").strip()
        if not is_valid_code(scope_code) or level_of(scope_code) not in ("provinsi", "kabupaten"):
            raise AccountError(_l("A pembina's scope is one provinsi or kabupaten/kota code."), field="scope")
        if get_region(scope_code) is None:
            raise AccountError(_l("No region has this code."), field="scope")
    if not permissions.can_grant(actor, role, scope_code):
        raise AccountError(_l("You may not grant this role with this scope."), status=403)
    existing = user.grant(role)
    before = _grant_snapshot(existing) if existing else None
    if existing:
        if existing.scope_code == scope_code:
            return existing
        if not permissions.can_revoke(actor, existing):
            raise AccountError(_l("This user already holds this role in a region outside your scope."), status=403)
        existing.scope_code = scope_code
        existing.granted_by_id = getattr(actor, "id", None)
        existing.granted_at = utcnow()
        grant = existing
    else:
        grant = RoleGrant(user=user, role=role, scope_code=scope_code, granted_by_id=getattr(actor, "id", None))
        db.session.add(grant)
    db.session.flush()
    record(actor, "role.grant", "user", user.id, scope_code=scope_code, before=before, after=_grant_snapshot(grant))
    return grant


def revoke_role(actor: User, user: User, role: str) -> RoleGrant:
    _refuse_unless(permissions.can_manage_roles(actor), _l("You may not manage users."))
    grant = user.grant(role)
    if grant is None:
        raise AccountError(_l("This user does not hold this role."), status=404)
    if not permissions.can_revoke(actor, grant):
        raise AccountError(_l("You may not revoke this role."), status=403)
    snapshot = _grant_snapshot(grant)
    user.grants.remove(grant)
    db.session.flush()
    record(actor, "role.revoke", "user", user.id, scope_code=snapshot["scope"], before=snapshot, after=None)
    return grant


def create_admin(actor, email: str, password: str, name: str | None = None) -> tuple[User, bool]:
    """A directorate account, created if needed. Returns the user and whether it was created.

    `flask users create-admin` bootstraps the first one with `actor=permissions.SYSTEM`; otherwise
    only the directorate appoints the directorate."""
    _refuse_unless(permissions.can_grant(actor, "direktorat", None),
                   _l("You may not grant this role with this scope."))
    email = normalise_email(email)
    user = queries.user_by_email(email)
    created = user is None
    if created:
        if not email or "@" not in email:
            raise AccountError(_l("Enter a valid email address."), field="email")
        problem = password_problem(password, email=email, name=name or "")
        if problem:
            raise AccountError(problem, field="password")
        user = User(name=name or email.split("@", 1)[0], email=email, password_hash=hash_password(password),
                    email_verified_at=utcnow())
        db.session.add(user)
        db.session.flush()
    grant_role(actor, user, "direktorat", None)
    return user, created
