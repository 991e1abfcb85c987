"""Rate limits per action: one bucket per action, shared by the page and the API that do it.

Flask-Limiter counts every request that reaches a decorated route, answered with success or
not (no `deduct_when`): failed logins and refused posts use the bucket up like good ones.

Logins (page /masuk and POST /api/v1/auth/token) are limited per (account, address) pair and per
address, with a high per-account ceiling against guessing from many addresses: an attacker
without the password is throttled at their own address and cannot keep the owner out from
elsewhere. A browser where the account logged in before (the signed device cookie set at a
successful login, OWASP "device cookies") is exempt from those and has its own bucket, so the
owner can log in even from the attacker's address.
"""
from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from kim_platform.core.auth import limiter, submitted_email, submitted_email_key

LOGIN_ADDRESS_LIMITS = "10 per minute;60 per hour"  # any accounts, from one address
LOGIN_PAIR_LIMITS = "5 per minute;30 per hour"  # one account from one address
LOGIN_ACCOUNT_LIMITS = "30 per minute;300 per hour"  # one account from anywhere: a ceiling only
LOGIN_DEVICE_LIMITS = "5 per minute;30 per hour"  # one known device
REGISTER_LIMITS = "10 per hour"
RESET_ADDRESS_LIMITS = "5 per minute;20 per hour"
RESET_ACCOUNT_LIMITS = "3 per hour"


DEVICE_LOOKUP = "kim_device_lookup"


def register_device_lookup(app, lookup) -> None:
    """`lookup(cookie, email)`: the browser's id when its device cookie was set by a login to
    the account `email`, else None (registered by `accounts.init_app`; without it no browser
    is a known device)."""
    app.extensions[DEVICE_LOOKUP] = lookup


def known_device_id() -> str | None:
    """The id of this browser when its device cookie names the account being logged in to."""
    if "known_device" not in g:
        lookup = current_app.extensions.get(DEVICE_LOOKUP)
        cookie = request.cookies.get(current_app.config["DEVICE_COOKIE_NAME"])
        g.known_device = lookup(cookie, submitted_email()) if cookie and lookup else None
    return g.known_device


def _is_known_device() -> bool:
    return known_device_id() is not None


def _is_unknown_device() -> bool:
    return known_device_id() is None


def _pair_key() -> str:
    email = submitted_email()
    address = get_remote_address()
    return f"pair:{email}|{address}" if email else "ip:" + address


def _device_key() -> str:
    return "device:" + (known_device_id() or "")


def _account_or_address_key() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return "ip:" + get_remote_address()


_POST = ["POST"]

LOGIN = [
    limiter.shared_limit(LOGIN_ADDRESS_LIMITS, "login-address", methods=_POST, exempt_when=_is_known_device),
    limiter.shared_limit(LOGIN_PAIR_LIMITS, "login-pair", key_func=_pair_key, methods=_POST,
                         exempt_when=_is_known_device),
    limiter.shared_limit(LOGIN_ACCOUNT_LIMITS, "login-account", key_func=submitted_email_key, methods=_POST,
                         exempt_when=_is_known_device),
    limiter.shared_limit(LOGIN_DEVICE_LIMITS, "login-device", key_func=_device_key, methods=_POST,
                         exempt_when=_is_unknown_device),
]
REGISTER = [limiter.shared_limit(REGISTER_LIMITS, "register", methods=_POST)]
PASSWORD_RESET_REQUEST = [
    limiter.shared_limit(RESET_ADDRESS_LIMITS, "reset-address", methods=_POST),
    limiter.shared_limit(RESET_ACCOUNT_LIMITS, "reset-account", key_func=submitted_email_key, methods=_POST),
]


def posting(action: str, methods=("POST",)) -> list:
    """Limits on attempts to post (`action`: "report" or "kim"), per account and per address,
    configured by KIM_POST_LIMITS_ACCOUNT and KIM_POST_LIMITS_ADDRESS. The daily caps on what
    is actually created (KIM_MAX_REPORTS_PER_DAY, KIM_MAX_KIMS_PER_DAY) come on top."""
    methods = list(methods)
    return [
        limiter.shared_limit(lambda: current_app.config["POST_LIMITS_ACCOUNT"], f"post-{action}-account",
                             key_func=_account_or_address_key, methods=methods),
        limiter.shared_limit(lambda: current_app.config["POST_LIMITS_ADDRESS"], f"post-{action}-address",
                             methods=methods),
    ]


def throttled(limits: list):
    """Decorate a view function with several limits."""
    def decorate(view):
        for limit in reversed(limits):
            view = limit(view)
        return view
    return decorate
