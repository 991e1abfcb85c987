"""Uploaded files behind one small interface, tied to the database transaction.

Files written during a request are deleted again if the transaction rolls back, and files
scheduled for deletion go only once it commits: no orphans, no dangling rows. Another
backend (object storage) needs only `save`, `read`, `delete` and `exists`.
"""
import io
import os
import re
import secrets
from pathlib import Path

from flask import current_app, send_file
from sqlalchemy import event, select, union_all
from sqlalchemy.orm import Session

from kim_platform.core.auth import independent_of_session
from kim_platform.extensions import db

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{20,48}\.(webp|jpg|png|pdf|geojson|xlsx|csv)$")
# Column info for a column that holds a storage key: mapped_column(..., info=STORED_FILE).
STORED_FILE = {"stored_file": True}


class LocalStorage:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not KEY_RE.match(key or ""):
            raise ValueError("invalid storage key")
        return self.root / key[:2] / key

    def save(self, data: bytes, suffix: str) -> str:
        key = secrets.token_urlsafe(24) + suffix
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
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).exists()
        except ValueError:
            return False

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except ValueError:
            pass


    def keys_older_than(self, seconds: float):
        """Stored keys (and leftover .part files) last written more than `seconds` ago."""
        import time

        cutoff = time.time() - seconds
        if not self.root.exists():
            return
        for path in self.root.glob("*/*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                yield path.name


def storage() -> LocalStorage:
    return LocalStorage(current_app.config["UPLOAD_DIR"])


MIMETYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png", "pdf": "application/pdf",
             "geojson": "application/geo+json", "csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def send_stored(key: str, public: bool, download_name: str | None = None):
    """Serve a stored file: never sniffed, never run, cached for good only when public.

    Keys are random and never reused, so a public file can be immutable. `public` must be
    decided without the session (permissions.stored_file_access): its answer does not vary
    with the cookie."""
    response = send_file(io.BytesIO(storage().read(key)), mimetype=MIMETYPES[key.rsplit(".", 1)[1]],
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


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    session.info.pop("kim_new_files", None)
    for store, key in session.info.pop("kim_doomed_files", []):
        store.delete(key)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous_transaction):
    for store, key in session.info.pop("kim_new_files", []):
        store.delete(key)
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


def sweep_orphans(session, older_than_seconds: float = 3600) -> list[str]:
    """Delete files no row refers to: left when a worker died between writing a file and its
    commit (the rollback hook never ran). Young files are kept: their transaction may be open."""
    store = storage()
    referenced = referenced_keys(session)
    removed = []
    for name in store.keys_older_than(older_than_seconds):
        if name not in referenced:
            path = store.root / name[:2] / name
            path.unlink(missing_ok=True)
            removed.append(name)
    return removed
