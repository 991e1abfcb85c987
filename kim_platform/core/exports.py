"""Large exports built in the background and served when ready (a national KIM directory as
GeoJSON or XLSX takes seconds and tens of megabytes: no request builds it while a browser waits).

Core knows no domain: a package registers what it exports from its init_app,

    export_kind(app, "kim_directory", writers={"geojson": write_geojson, "xlsx": write_xlsx},
                parse=parse_params, filename=lambda params, fmt: "...")

where a writer writes the whole file into a binary file object and returns how many rows it wrote,
and `parse` turns request input into the canonical parameters (or raises ExportError).

An export holds only what every visitor may see, so one file serves everyone who asks for the same
thing: `request_export` returns the export of the same kind, format and parameters that is being
built or was finished less than KIM_EXPORT_MAX_AGE_MIN minutes ago, else records a new one and
schedules its build (`schedule_build`: the job queue when it is configured, else after the
response in the same process). `build_export` is idempotent: it locks the row, does nothing for an
export already ready, and writes the file and marks the row ready in one transaction, so a build
killed half-way leaves the row to be built again and its file an orphan for the storage sweep.
Exports older than KIM_EXPORT_KEEP_DAYS are deleted by a daily task, file and row together.
"""
import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app, g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, DateTime, Index, Integer, String, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kim_platform.core import clock
from kim_platform.core.domain import DomainError
from kim_platform.core.storage import STORED_FILE, delete_after_commit, save_in_transaction
from kim_platform.extensions import db

log = logging.getLogger(__name__)
EXTENSION = "kim_export_kinds"
BUILD_JOB = "exports.build"
_BUILD_AFTER_RESPONSE = "kim_exports_to_build"

QUEUED, RUNNING, READY, FAILED = "queued", "running", "ready", "failed"
STATE_LABELS = {
    QUEUED: _l("Waiting to be built"),
    RUNNING: _l("Being built"),
    READY: _l("Ready to download"),
    FAILED: _l("Could not be built"),
}
SUFFIXES = {"geojson": ".geojson", "xlsx": ".xlsx", "csv": ".csv"}


class ExportError(DomainError):
    """Bad export input (an unknown kind or format, a region that does not exist)."""


class DataExport(db.Model):
    """One built (or being built) file of an export kind, format and parameters."""

    __tablename__ = "data_export"
    __table_args__ = (
        # request_export's look-up of the newest export of the same thing.
        Index("ix_data_export_lookup", "kind", "fmt", "params_hash", "requested_at"),
        Index("ix_data_export_requested_at", "requested_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    fmt: Mapped[str] = mapped_column(String(10))
    params: Mapped[dict] = mapped_column(JSONB, default=dict)
    # sha1 of the canonical parameters: the look-up key (JSONB equality would need its own index).
    params_hash: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), default=QUEUED)
    storage_key: Mapped[str | None] = mapped_column(String(60), info=STORED_FILE)
    rows: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(300))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def ready(self) -> bool:
        return self.state == READY

    @property
    def pending(self) -> bool:
        """Still to be built (and the queue has not given up on it)."""
        return self.state in (QUEUED, RUNNING) and export_state(self) != FAILED

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[export_state(self)])

    @property
    def failed(self) -> bool:
        return export_state(self) == FAILED

    def filename(self) -> str:
        return export_kinds()[self.kind].filename(self.params, self.fmt)


@dataclass(frozen=True)
class ExportKind:
    name: str
    writers: dict[str, Callable]
    parse: Callable[[dict], dict]
    filename: Callable[[dict, str], str]


def export_kind(app, name: str, writers: dict[str, Callable], parse: Callable[[dict], dict],
                filename: Callable[[dict, str], str]) -> None:
    """Register an export kind in `app` (from a package's init_app); names are unique."""
    kinds = app.extensions.setdefault(EXTENSION, {})
    if name in kinds:
        raise ValueError(f"export kind {name!r} is registered twice")
    unknown = set(writers) - set(SUFFIXES)
    if unknown:
        raise ValueError(f"unknown export formats {sorted(unknown)}")
    kinds[name] = ExportKind(name, dict(writers), parse, filename)


def export_kinds() -> dict[str, ExportKind]:
    return current_app.extensions.get(EXTENSION, {})


def _params_hash(params: dict) -> str:
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()


def get_export(export_id: int) -> DataExport | None:
    return db.session.get(DataExport, export_id)


def request_export(kind: str, fmt: str, raw: dict) -> tuple[DataExport, bool]:
    """The export of `kind` in `fmt` for the request input `raw`: (export, created). A recent or
    pending one is shared; otherwise a new row is added to the session and the caller's commit
    makes it (the build is scheduled after that commit).

    Requests for the same export wait on one transaction-scoped advisory lock, so two visitors
    asking at once get one export, not two builds."""
    registered = export_kinds().get(kind)
    if registered is None:
        raise ExportError(_l("There is no such export."), status=404, code="not_found")
    if fmt not in registered.writers:
        raise ExportError(_l("This export is not available in that format."),
                          fields={"format": _l("Choose GeoJSON or XLSX.")})
    params = registered.parse(raw)
    digest = _params_hash(params)
    db.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"export:{kind}:{fmt}:{digest}", 0))))
    fresh_after = clock.utcnow() - timedelta(minutes=current_app.config["EXPORT_MAX_AGE_MIN"])
    recent = db.session.scalars(
        select(DataExport)
        .where(DataExport.kind == kind, DataExport.fmt == fmt, DataExport.params_hash == digest,
               DataExport.state.in_((QUEUED, RUNNING, READY)), DataExport.requested_at >= fresh_after)
        .order_by(DataExport.requested_at.desc()).limit(1)).first()
    if recent is not None:
        return recent, False
    export = DataExport(kind=kind, fmt=fmt, params=params, params_hash=digest, state=QUEUED,
                        requested_at=clock.utcnow())
    db.session.add(export)
    db.session.flush()
    schedule_build(export.id)
    return export, True


def schedule_build(export_id: int) -> None:
    """Build the export once the current transaction commits: by the job queue's worker when the
    queue is on (kim_platform.core.queue), else by this process after the response is sent (one
    node; its own transaction, see `_build_after_response`)."""
    from kim_platform.core import queue

    if queue.enabled():
        queue.enqueue(BUILD_JOB, {"export_id": export_id}, dedup_key=f"export:{export_id}")
    elif has_request_context():
        g.setdefault(_BUILD_AFTER_RESPONSE, []).append(export_id)
    else:  # a command: its own caller commits first, then asks build_now
        db.session.info.setdefault(_BUILD_AFTER_RESPONSE, []).append(export_id)


def _build_after_response(response):
    """after_request (registered before core.transaction's, so it runs after the commit): the
    exports asked for in this request are built once the answer has gone. A request that failed
    committed nothing, and a build finds no row then."""
    ids = g.pop(_BUILD_AFTER_RESPONSE, None)
    if ids and response.status_code < 400:
        app = current_app._get_current_object()
        response.call_on_close(lambda: build_now(app, ids))
    return response


def build_now(app, ids) -> None:
    """Build exports in this process, each in a transaction of its own; a failure is recorded on
    the export (the status page says so) and logged, never raised into the server."""
    from kim_platform.core.transaction import job_transaction

    for export_id in ids:
        with app.app_context():
            try:
                with job_transaction():
                    build_export(export_id)
            except Exception as error:  # noqa: BLE001 (recorded on the export and logged)
                log.exception("export %s could not be built", export_id)
                with job_transaction():
                    mark_failed(export_id, f"{type(error).__name__}: {error}")
            finally:
                db.session.remove()


def export_state(export: DataExport) -> str:
    """The state to show: the export's own, or failed when the job queue gave up on its build."""
    if export.state not in (QUEUED, RUNNING):
        return export.state
    from kim_platform.core import queue

    if queue.enabled():
        job_state = db.session.scalar(select(queue.BackgroundJob.state)
                                      .where(queue.BackgroundJob.dedup_key == f"export:{export.id}"))
        if job_state == queue.FAILED:
            return FAILED
    return export.state


def build_export(export_id: int) -> str:
    """Write the export's file and mark it ready, in the caller's transaction (the job's).

    Idempotent: an export already ready (a job delivered twice) is left as it is; one whose build
    fails is marked failed with the reason in a transaction of its own by the caller (the queue's
    final failure) — here a failure raises and rolls the file back."""
    export = db.session.scalars(select(DataExport).where(DataExport.id == export_id).with_for_update()).first()
    if export is None:
        return "no such export"
    if export.state == READY:
        return "already ready"
    registered = export_kinds()[export.kind]
    writer = registered.writers[export.fmt]
    export.state, export.started_at = RUNNING, clock.utcnow()
    with tempfile.TemporaryFile() as out:
        rows = writer(export.params, out)
        size = out.tell()
        out.seek(0)
        key = save_in_transaction(db.session, out.read(), SUFFIXES[export.fmt])
    export.state, export.storage_key, export.rows, export.size_bytes = READY, key, rows, size
    export.finished_at, export.error = clock.utcnow(), None
    return f"{rows} rows, {size} bytes"


def mark_failed(export_id: int, reason: str) -> None:
    """The queue gave up on the build: say so on the export (the status page shows it)."""
    export = db.session.get(DataExport, export_id)
    if export is not None and export.state != READY:
        export.state, export.error, export.finished_at = FAILED, reason[:300], clock.utcnow()


def purge_old_exports(day) -> str:
    """Daily: exports requested more than KIM_EXPORT_KEEP_DAYS ago go, file and row together."""
    cutoff = clock.utcnow() - timedelta(days=current_app.config["EXPORT_KEEP_DAYS"])
    old = db.session.scalars(select(DataExport).where(DataExport.requested_at < cutoff)
                             .order_by(DataExport.id).limit(10_000)).all()
    for export in old:
        delete_after_commit(db.session, export.storage_key)
        db.session.delete(export)
    return f"{len(old)} old exports removed"


def init_app(app) -> None:
    """The build job, the build after the response (before core.transaction's init_app, so that
    its after_request runs after the commit) and the daily purge."""
    from kim_platform.core import queue
    from kim_platform.core.jobs import daily_task

    app.extensions.setdefault(EXTENSION, {})
    queue.job_handler(app, BUILD_JOB, lambda payload: build_export(int(payload["export_id"])))
    app.after_request(_build_after_response)
    daily_task(app, "exports.purge", 890, purge_old_exports)



