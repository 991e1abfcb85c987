"""Static files under content-hashed names, cached for a year, compressed once per worker.

At start-up every file under static/ is read and named after its contents
(`css/site.css` -> `css/site.3f9a1c2b7d4e.css`); `url_for('static', filename=...)` gives the
hashed name, so templates keep calling it unchanged. A hashed URL never changes meaning, so it is
served with `Cache-Control: public, max-age=31536000, immutable`; the plain name still works
with `no-cache` (the browser revalidates with the ETag). Stylesheets' relative `url(...)`
references (Leaflet's images) are rewritten to the hashed names before the stylesheet itself is
hashed, so they resolve and are cached for good too.

Compression: text files are compressed once per worker, on their first request, at the highest
levels (brotli 11, gzip 9) and kept in memory beside the file. Measured on the vendored Leaflet
(147.6 KB): brotli 11 gives 36.9 KB in 164 ms once, against 44.0 KB in 2.3 ms for brotli 4 on
every request (Flask-Compress's default); all our static text is about 230 KB, so the cache
holds about 70 KB per encoding. Files that are already compressed (images, fonts) or tiny
(below COMPRESS_MIN_SIZE) are sent as they are.
"""
import gzip
import hashlib
import mimetypes
import posixpath
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import brotli
from flask import Flask, current_app, request
from werkzeug.wrappers import Response

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HASH_LENGTH = 12
# url(...) in a stylesheet: quoted or not; absolute, data: and fragment references stay as they are.
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+?)\1\s*\)""")
# References that scripts read back: Leaflet finds its image folder by stripping "marker-icon.png"
# from the url() of .leaflet-default-icon-path (L.Icon.Default._detectIconPath); a hashed name
# there makes it ask for ".../marker-icon.<hash>.pngmarker-icon.png". They keep their name (and
# revalidate).
KEEP_NAMES = {"vendor/leaflet/images/marker-icon.png"}


@dataclass
class Asset:
    path: str  # the file's own name under static/, e.g. "css/site.css"
    hashed: str  # e.g. "css/site.3f9a1c2b7d4e.css"
    body: bytes
    mimetype: str
    etag: str
    encoded: dict = field(default_factory=dict)  # "br"/"gzip" -> bytes, filled on first request


def hashed_name(path: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()[:HASH_LENGTH]
    stem, dot, ext = path.rpartition(".")
    if not dot or "/" in ext:  # no extension
        return f"{path}.{digest}"
    return f"{stem}.{digest}.{ext}"


def _rewrite_css(path: str, body: bytes, names: dict[str, str]) -> bytes:
    """`url(images/x.png)` -> `url(images/x.<hash>.png)` for files we know, relative to `path`."""
    folder = posixpath.dirname(path)

    def replace(match):
        quote, ref = match.group(1), match.group(2).strip()
        if ref.startswith(("data:", "#", "/", "http:", "https:")) or "//" in ref:
            return match.group(0)
        target, _, suffix = ref.partition("?")
        resolved = posixpath.normpath(posixpath.join(folder, target))
        if resolved not in names or resolved in KEEP_NAMES:
            return match.group(0)
        new = posixpath.relpath(names[resolved], folder or ".")
        return f"url({quote}{new}{'?' + suffix if suffix else ''}{quote})"

    return _CSS_URL.sub(replace, body.decode("utf-8")).encode("utf-8")


class StaticManifest:
    """Every static file by its own and by its hashed name, built once from the folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.by_path: dict[str, Asset] = {}
        self.by_hashed: dict[str, Asset] = {}
        self._lock = threading.Lock()
        files = sorted(p for p in self.folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        raw = {p.relative_to(self.folder).as_posix(): p.read_bytes() for p in files}
        names: dict[str, str] = {}
        # Stylesheets last: their references must already have their hashed names.
        for path in sorted(raw, key=lambda name: name.endswith(".css")):
            body = raw[path]
            if path.endswith(".css"):
                body = _rewrite_css(path, body, names)
            hashed = hashed_name(path, body)
            names[path] = hashed
            mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
            asset = Asset(path=path, hashed=hashed, body=body, mimetype=mimetype,
                          etag=hashlib.sha256(body).hexdigest()[:HASH_LENGTH])
            self.by_path[path] = asset
            self.by_hashed[hashed] = asset

    def url_name(self, filename: str) -> str:
        asset = self.by_path.get(filename)
        return asset.hashed if asset else filename

    def encoded(self, asset: Asset, encoding: str) -> bytes:
        """The asset compressed with `encoding`, computed on first use and kept."""
        body = asset.encoded.get(encoding)
        if body is None:
            with self._lock:
                body = asset.encoded.get(encoding)
                if body is None:
                    if encoding == "br":
                        body = brotli.compress(asset.body, quality=11)
                    else:
                        body = gzip.compress(asset.body, compresslevel=9, mtime=0)
                    asset.encoded[encoding] = body
        return body


def _choose_encoding(app: Flask, asset: Asset) -> str | None:
    if asset.mimetype not in app.config["COMPRESS_MIMETYPES"] or len(asset.body) < app.config["COMPRESS_MIN_SIZE"]:
        return None
    accepted = request.accept_encodings
    for encoding in ("br", "gzip"):  # brotli is smaller; gzip for everything else
        if accepted[encoding]:
            return encoding
    return None


def serve_static(filename: str):
    """A static file by its hashed name (cached for good) or its own (revalidated)."""
    app = current_app
    manifest: StaticManifest = app.extensions["static_manifest"]
    asset = manifest.by_hashed.get(filename)
    immutable = asset is not None
    if asset is None:
        asset = manifest.by_path.get(filename)
    if asset is None:
        # A file added after start-up: Flask's own handler (404 when it does not exist either).
        return app.send_static_file(filename)
    compressible = asset.mimetype in app.config["COMPRESS_MIMETYPES"] and \
        len(asset.body) >= app.config["COMPRESS_MIN_SIZE"]
    encoding = _choose_encoding(app, asset)
    etag = f"{asset.etag}-{encoding}" if encoding else asset.etag
    if request.if_none_match and etag in request.if_none_match:
        response = Response(status=304)
    else:
        body = manifest.encoded(asset, encoding) if encoding else asset.body
        response = Response(body, mimetype=asset.mimetype)
        if encoding:
            response.headers["Content-Encoding"] = encoding
    response.set_etag(etag)
    if compressible:
        response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = IMMUTABLE if immutable else REVALIDATE
    return response


def init_app(app: Flask) -> None:
    manifest = StaticManifest(app.static_folder)
    app.extensions["static_manifest"] = manifest
    app.view_functions["static"] = serve_static

    @app.url_defaults
    def hashed_static_names(endpoint, values):
        if endpoint == "static" and "filename" in values:
            values["filename"] = manifest.url_name(values["filename"])


def export_static(manifest: StaticManifest, target: str | Path, compress_mimetypes, min_size: int) -> int:
    """Write every asset under its hashed and its own name into `target`, with a `.gz` beside each
    compressible one, for a web server that serves /static/ itself (nginx with `gzip_static`,
    deploy/nginx-kim.conf). The bodies are the app's (stylesheets with hashed references), so the
    server answers exactly what the app would. Files are only added or replaced, never deleted: in a
    rolling upgrade, pages of the old release still ask for the old hashed names. Returns the
    number of files written."""
    target = Path(target)
    written = 0
    for asset in manifest.by_path.values():
        compressible = asset.mimetype in compress_mimetypes and len(asset.body) >= min_size
        packed = gzip.compress(asset.body, compresslevel=9, mtime=0) if compressible else None
        for name in {asset.path, asset.hashed}:
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            for file, body in ((path, asset.body), (path.with_name(path.name + ".gz"), packed)):
                if body is None or (file.exists() and file.read_bytes() == body):
                    continue
                temporary = file.with_name(f".{file.name}.tmp")
                temporary.write_bytes(body)
                temporary.chmod(0o644)
                temporary.replace(file)  # a server reading it sees the old or the new file, whole
                written += 1
    return written
