"""URLs: absolute links from the configured public base URL, and redirect targets kept on this site."""
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request


def absolute_url(endpoint: str, **values) -> str:
    """The public address of `endpoint`: BASE_URL joined to its path, never the request's Host
    (a forged Host would otherwise end up in mails and cached feeds). Works outside a request too,
    e.g. for mails sent after the response or from the CLI."""
    app = current_app
    if endpoint.startswith("."):
        blueprint = request.blueprint if has_request_context() else None
        endpoint = f"{blueprint}{endpoint}" if blueprint else endpoint[1:]
    anchor = values.pop("_anchor", None)
    app.inject_url_defaults(endpoint, values)
    base = urlsplit(app.config["BASE_URL"])
    path = app.url_map.bind(base.netloc, url_scheme=base.scheme).build(endpoint, values)
    return app.config["BASE_URL"] + path + (f"#{anchor}" if anchor else "")


def local_referrer() -> str | None:
    """The Referer's path and query when it is a page of this site (by BASE_URL), else None."""
    referrer = request.referrer or ""
    if not referrer.startswith(current_app.config["BASE_URL"] + "/"):
        return None
    return safe_next_url(referrer[len(current_app.config["BASE_URL"]):])


def safe_next_url(target: str | None) -> str | None:
    """`target` if it is a local path ("/wilayah?x=1"), else None (no open redirects)."""
    if not target or "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
