"""Uploaded files behind one small interface, tied to the database transaction.

Files written during a request are deleted again if the transaction rolls back, and files
scheduled for deletion go only once it commits: no orphans, no dangling rows. Two backends share
the interface (`save`, `read`, `exists`, `delete`, `keys`, `keys_older_than`): `LocalStorage`, a
folder of one machine (the default), and `S3Storage`, an S3-API bucket every app node shares
(KIM_STORAGE=s3). Nothing outside this module knows where a file lives.
"""
import io
import logging
import os
import re
import secrets
import time
from pathlib import Path

from flask import abort, current_app, send_file
from sqlalchemy import event, select, union_all
from sqlalchemy.orm import Session

from kim_platform.core.auth import independent_of_session
from kim_platform.extensions import db

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{20,48}\.(webp|jpg|png|pdf|geojson|xlsx|csv)$")
# Column info for a column that holds a storage key: mapped_column(..., info=STORED_FILE).
STORED_FILE = {"stored_file": True}
MIMETYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png", "pdf": "application/pdf",
             "geojson": "application/geo+json", "csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class StorageUnavailable(Exception):
    """The file store cannot be reached (object storage down, timing out, refusing our keys).

    Answered as a 503 (core/errors.py) like a lost database: nothing of the request is saved,
    and what it had stored already is deleted by the rollback hook (or, with the store away, by
    the daily sweep)."""


def _new_key(suffix: str) -> str:
    """Random and never reused, so a public file can be cached for good under its key."""
    if suffix.lstrip(".") not in MIMETYPES:
        raise ValueError(f"unsupported stored file type {suffix!r}")
    return secrets.token_urlsafe(24) + suffix


def _checked(key: str) -> str:
    if not KEY_RE.match(key or ""):
        raise ValueError("invalid storage key")
    return key


class LocalStorage:
    """Files in a folder of this machine (KIM_UPLOAD_DIR), fanned out by the key's first two
    characters; each written under a temporary name, flushed to disk and renamed into place."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / _checked(key)

    def save(self, data: bytes, suffix: str) -> str:
        key = _new_key(suffix)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".part")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        return key

    def read(self, key: str) -> bytes:
        """The file's bytes; FileNotFoundError when there is none under `key`."""
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).exists()
        except ValueError:
            return False

    def delete(self, key: str) -> None:
        """Remove the file (or a `.part` left by a worker killed while writing); no error if absent."""
        try:
            path = self._path(key.removesuffix(".part"))
        except ValueError:
            return
        path.with_name(key).unlink(missing_ok=True)

    def _listing(self):
        if not self.root.exists():
            return
        for path in self.root.glob("*/*"):
            try:
                if path.is_file():
                    yield path.name, path.stat().st_mtime
            except FileNotFoundError:  # deleted by a request while we listed
                continue

    def keys(self):
        """Every stored key."""
        for name, _ in self._listing():
            if KEY_RE.match(name):
                yield name

    def keys_older_than(self, seconds: float, now: float | None = None):
        """Stored keys (and leftover .part files) last written more than `seconds` before `now`
        (a Unix time, default the clock's)."""
        cutoff = (time.time() if now is None else now) - seconds
        for name, modified in self._listing():
            if modified < cutoff:
                yield name


# Short timeouts and one retry: an object store that is away must cost a request about a second
# (then a 503), not hold a gunicorn worker for botocore's default minute.
S3_CONNECT_TIMEOUT_S = 1.0
S3_READ_TIMEOUT_S = 5.0
S3_MAX_ATTEMPTS = 2
S3_LIST_PAGE = 1000


class S3Storage:
    """Objects in an S3-API bucket (AWS S3, MinIO, SeaweedFS, Ceph RGW, ...) shared by every node.

    Keys are the same as LocalStorage's, laid out the same way under KIM_S3_PREFIX (`ab/abc….webp`),
    so a local upload folder can be copied into a bucket as it is. A PUT is atomic per object (the
    object appears whole or not at all): no temporary names. Listing is paginated by the service
    (list_objects_v2, a thousand keys a page), so the sweep never holds a whole bucket's listing."""

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def _object(self, key: str) -> str:
        return f"{self.prefix}{key[:2]}/{_checked(key)}"

    def _call(self, operation: str, **parameters):
        """One S3 request; a missing object is FileNotFoundError, any other failure StorageUnavailable."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **parameters)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(parameters.get("Key")) from None
            log.warning("Object storage refused %s: %s", operation, error)
            raise StorageUnavailable(f"{operation}: {code}") from error
        except BotoCoreError as error:  # connection refused, timeouts, ...
            log.warning("Object storage unreachable on %s: %s", operation, error)
            raise StorageUnavailable(f"{operation}: {error}") from error

    def save(self, data: bytes, suffix: str) -> str:
        key = _new_key(suffix)
        self._call("put_object", Key=self._object(key), Body=data, ContentType=MIMETYPES[suffix.lstrip(".")])
        return key

    def read(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError when there is none under `key`."""
        body = self._call("get_object", Key=self._object(key))["Body"]
        try:
            return body.read()
        except Exception as error:  # noqa: BLE001 - the connection broke mid-body
            raise StorageUnavailable(f"get_object: {error}") from error
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=self._object(key))
        except (FileNotFoundError, ValueError):
            return False
        return True

    def delete(self, key: str) -> None:
        """Remove the object; no error if absent (S3's DELETE is idempotent)."""
        try:
            self._call("delete_object", Key=self._object(key))
        except ValueError:
            pass

    def _listing(self):
        from botocore.exceptions import BotoCoreError, ClientError

        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix, PaginationConfig={"PageSize": S3_LIST_PAGE})
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    name = item["Key"].rsplit("/", 1)[-1]
                    if KEY_RE.match(name) and item["Key"] == f"{self.prefix}{name[:2]}/{name}":
                        yield name, item["LastModified"].timestamp()
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable(f"list_objects_v2: {error}") from error

    def keys(self):
        """Every stored key (under the prefix)."""
        for name, _ in self._listing():
            yield name

    def keys_older_than(self, seconds: float, now: float | None = None):
        """Keys whose object was last written more than `seconds` before `now` (a Unix time, default
        the clock's), by the service's LastModified: compare it with a clock in step with the store's."""
        cutoff = (time.time() if now is None else now) - seconds
        for name, modified in self._listing():
            if modified < cutoff:
                yield name


S3_CLIENT = "kim_s3_client"


def s3_client(app):
    """The app's boto3 client for its S3 settings, one per process: boto3 clients are thread-safe
    (gthread workers share one), but a client must not cross a fork (gunicorn --preload)."""
    settings = tuple(app.config.get(name) for name in (
        "S3_ENDPOINT_URL", "S3_REGION", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"))
    cached = app.extensions.get(S3_CLIENT)
    if cached is not None and cached[0] == (os.getpid(), settings):
        return cached[1]
    import boto3
    from botocore.config import Config as BotoConfig

    endpoint, region, access_key, secret_key = settings
    config = BotoConfig(
        connect_timeout=S3_CONNECT_TIMEOUT_S, read_timeout=S3_READ_TIMEOUT_S,
        retries={"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"},
        # Servers other than AWS (MinIO, SeaweedFS, RGW) address buckets by path, not by host name.
        s3={"addressing_style": "path" if endpoint else "auto"},
        # Checksums only where S3 requires them: not every S3-compatible server accepts the CRC
        # headers botocore adds by default since 1.36.
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
    )
    # Unset keys: boto3's own chain (instance role, ~/.aws, AWS_* variables) decides.
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint or None, region_name=region or None,
        aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None, config=config)
    app.extensions[S3_CLIENT] = ((os.getpid(), settings), client)
    return client


def storage() -> LocalStorage | S3Storage:
    """The configured store (KIM_STORAGE): a folder of this machine, or the shared bucket."""
    app = current_app._get_current_object()
    if app.config.get("STORAGE", "local") == "s3":
        return S3Storage(s3_client(app), app.config["S3_BUCKET"], app.config.get("S3_PREFIX") or "")
    return LocalStorage(app.config["UPLOAD_DIR"])


def send_stored(key: str, public: bool, download_name: str | None = None):
    """Serve a stored file: never sniffed, never run, cached for good only when public.

    Keys are random and never reused, so a public file can be immutable: a caching proxy (nginx)
    or a CDN in front of the app keeps it, and the app's permission check still decides, per key,
    which files are public. `public` must be decided without the session
    (permissions.stored_file_access): its answer does not vary with the cookie. A key with no file
    is a 404; a store that is away a 503 (StorageUnavailable)."""
    try:
        data = storage().read(key)
    except FileNotFoundError:
        abort(404)
    response = send_file(io.BytesIO(data), mimetype=MIMETYPES[key.rsplit(".", 1)[1]],
                         as_attachment=bool(download_name), download_name=download_name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    if public:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.headers.pop("Expires", None)  # send_file's max_age=0 dated it "now"
        independent_of_session(response)  # the caller decided it without the session: no Vary: Cookie
    else:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def save_in_transaction(session, data: bytes, suffix: str) -> str:
    """Store a file that disappears again if `session`'s transaction does not commit."""
    store = storage()
    key = store.save(data, suffix)
    session.info.setdefault("kim_new_files", []).append((store, key))
    return key


def delete_after_commit(session, key: str | None) -> None:
    if key:
        session.info.setdefault("kim_doomed_files", []).append((storage(), key))


def _delete_quietly(store, key: str) -> None:
    """A hook's delete: with the store away the file stays, and the daily sweep removes it once no
    row refers to it; the transaction's outcome never depends on it."""
    try:
        store.delete(key)
    except StorageUnavailable as error:
        log.warning("Stored file %s left for the sweep: %s", key, error)


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    session.info.pop("kim_new_files", None)
    for store, key in session.info.pop("kim_doomed_files", []):
        _delete_quietly(store, key)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous_transaction):
    for store, key in session.info.pop("kim_new_files", []):
        _delete_quietly(store, key)
    session.info.pop("kim_doomed_files", None)


def stored_file_columns() -> list:
    """Every column that holds a storage key: the domains mark them with info=STORED_FILE, so
    the sweep learns where files are referenced without naming any domain's table."""
    return [column for table in db.metadata.sorted_tables for column in table.columns
            if column.info.get("stored_file")]


def referenced_keys(session) -> set[str]:
    columns = stored_file_columns()
    if not columns:  # the models are not loaded: every file would look orphaned
        raise RuntimeError("no column is marked as holding stored files")
    rows = session.execute(union_all(*(select(column).where(column.is_not(None)) for column in columns)))
    return set(rows.scalars())


def sweep_orphans(session, older_than_seconds: float = 3600, now: float | None = None) -> list[str]:
    """Delete files no row refers to: left when a worker died between writing a file and its
    commit (the rollback hook never ran), or when the store was away as a rollback deleted. Young
    files are kept: their transaction may be open. `now`: a Unix time, default the clock's."""
    store = storage()
    referenced = referenced_keys(session)
    removed = []
    for name in store.keys_older_than(older_than_seconds, now=now):
        if name not in referenced:
            store.delete(name)
            removed.append(name)
    return removed
