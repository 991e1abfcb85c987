"""Security headers on every response, with a per-request nonce for the few inline scripts."""
import secrets
from urllib.parse import urlsplit

from flask import g


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _tile_origin(url: str) -> str:
    parts = urlsplit(url.replace("{s}", "a"))
    host = parts.netloc
    # Tile URLs with a {s} subdomain placeholder need the wildcard.
    if "{s}" in url:
        host = "*." + host.split(".", 1)[1]
    return f"{parts.scheme}://{host}"


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
    app.before_request(refuse_nul_characters)

    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def set_security_headers(response):
        policy = [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{csp_nonce()}'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {tile_origin}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
        headers = response.headers
        headers.setdefault("Content-Security-Policy", "; ".join(policy))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
        if app.config.get("KIM_ENV") == "production":
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
