"""Checks at the door (Host, NUL characters, JSON nesting) and security headers on every response,
with a per-request nonce for the few inline scripts."""
import functools
import itertools
import operator
import re
import secrets
from urllib.parse import urlsplit

from flask import current_app, g, request
from werkzeug.exceptions import BadRequest
from werkzeug.sansio.utils import host_is_trusted

from kim_platform.core.urls import absolute_url

# Deeper than any body the API accepts, far below what makes a recursive parser overflow.
MAX_JSON_DEPTH = 64
# The largest JSON body: a report is at most 20,000 characters of Markdown plus links and tags;
# photos travel as multipart. Bounds the depth scan (and the parser) to milliseconds.
MAX_JSON_BYTES = 1024 * 1024
# A JSON string; an unterminated one runs to the end (so the scan never backtracks).
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_WEIGHTS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def csp_nonce() -> str:
    """The nonce of this response's inline scripts (a body that carries one is never revalidated
    by its ETag: core/conditional.py)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def body_uses_nonce() -> bool:
    return "csp_nonce" in g


def _tile_origin(url: str) -> str:
    parts = urlsplit(url.replace("{s}", "a"))
    host = parts.netloc
    # Tile URLs with a {s} subdomain placeholder need the wildcard.
    if "{s}" in url:
        host = "*." + host.split(".", 1)[1]
    return f"{parts.scheme}://{host}"


def refuse_untrusted_host() -> None:
    """400 for a Host (after ProxyFix: X-Forwarded-Host) that is not one of ALLOWED_HOSTS.

    Flask's own TRUSTED_HOSTS check fails while the URL adapter is built, which leaves the error
    page without url_for (a 500); checked here, first, the usual 400 page or JSON answers."""
    allowed = current_app.config.get("ALLOWED_HOSTS")
    if allowed and not host_is_trusted(request.environ.get("HTTP_HOST") or request.environ.get("SERVER_NAME"),
                                       allowed):
        raise BadRequest()


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parser would nest deeper than `limit` arrays/objects in `body`, found without
    parsing it (and at C speed): strings are dropped, each opener counts 2 and each closer 0, so
    the depth after the k-th bracket is the running sum minus k."""
    brackets = _JSON_STRING.sub(b"", body).translate(_BRACKET_WEIGHTS, _NOT_BRACKETS)
    depths = map(operator.sub, itertools.accumulate(brackets), itertools.count(1))
    return next(filter(functools.partial(operator.lt, limit), depths), None) is not None


def refuse_deep_json() -> None:
    """A JSON body nested thousands of levels deep makes the parser raise RecursionError (a 500
    under gunicorn); it is refused with 400 before anything parses it. A JSON body over
    MAX_JSON_BYTES is refused with 413 before it is even scanned."""
    from flask_babel import gettext as _
    from flask_smorest import abort

    if not request.is_json:
        return
    if (request.content_length or 0) > MAX_JSON_BYTES:
        abort(413, message=_("A JSON body may be at most %(n)d KB.", n=MAX_JSON_BYTES // 1024))
    body = request.get_data(cache=True)
    if len(body) > MAX_JSON_BYTES:  # sent without a Content-Length (chunked)
        abort(413, message=_("A JSON body may be at most %(n)d KB.", n=MAX_JSON_BYTES // 1024))
    if json_depth_exceeds(body):
        abort(400, message=_("The JSON body is nested too deeply (at most %(n)d levels).", n=MAX_JSON_DEPTH))


def refuse_nul_characters() -> None:
    """PostgreSQL text cannot hold NUL; input that carries one is refused with 400 at the door
    instead of failing deep inside a query as a 500."""
    from flask import request
    from flask_babel import gettext as _
    from flask_smorest import abort

    bad = [name for name, value in request.args.items(multi=True) if "\x00" in value or "\x00" in name]
    if "\x00" in request.path:
        bad.append("path")
    if request.is_json:
        body = request.get_data(cache=True)
        if b"\\u0000" in body or b"\x00" in body:
            bad.append("body")
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        bad += [name for name, value in request.form.items(multi=True) if "\x00" in value]
    if bad:
        abort(400, message=_("Input must not contain NUL characters."),
              errors={name: [_("Contains a NUL character.")] for name in bad})


def init_app(app) -> None:
    tile_origin = _tile_origin(app.config["TILE_URL"])
    app.before_request(refuse_untrusted_host)
    app.before_request(refuse_deep_json)
    app.before_request(refuse_nul_characters)

    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["absolute_url"] = absolute_url

    before_nonce = "default-src 'self'; script-src 'self' 'nonce-"
    after_nonce = "; ".join([
        "'",
        "style-src 'self'",
        f"img-src 'self' data: blob: {tile_origin}",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])
    fixed = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "DENY"),
        ("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()"),
    ]
    if app.config.get("KIM_ENV") == "production":
        fixed.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    fixed = [(name.lower(), name, value) for name, value in fixed]

    @app.after_request
    def set_security_headers(response):
        """Each header unless the answer set its own; the names present are read once (a lookup
        per header scanned them all, case-folded, for every answer)."""
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        if "content-security-policy" not in present:
            # A nonce of its own when the body has none (no inline script to allow).
            nonce = g.csp_nonce if "csp_nonce" in g else secrets.token_urlsafe(16)
            headers.add("Content-Security-Policy", before_nonce + nonce + after_nonce)
        for folded, name, value in fixed:
            if folded not in present:
                headers.add(name, value)
        return response
