"""Redirect targets taken from the request must stay on this site."""
from urllib.parse import urlsplit


def safe_next_url(target: str | None) -> str | None:
    """`target` if it is a local path ("/wilayah?x=1"), else None (no open redirects)."""
    if not target or "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
