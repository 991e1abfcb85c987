"""The job queue: slow work (mails, photo re-encoding, the daily jobs) done by one worker process.

Chosen by configuration: with KIM_REDIS_URL unset (`make run`, `make test`) `enabled()` is False
and every caller keeps its inline behaviour; set, callers `enqueue()` instead (KIM_JOBS=inline
keeps the inline behaviour with Redis configured).

Two stores, each doing what it is good at:

- **PostgreSQL holds the truth**: a `background_job` row per job (kind, payload, state, attempts,
  lease, last error). `enqueue()` inserts it in the caller's transaction, so a job exists exactly
  when the work that asked for it was committed; a dedup key makes the same work enqueued twice one
  job.
- **Redis (RQ) only delivers**: after the commit, the row's id is pushed to RQ (outside a request
  at once, inside one after the response has been sent). A push that fails (Redis down) loses
  nothing: the row stays `queued`, and the worker re-pushes due rows at start and every
  KIM_JOB_POLL_SECONDS (`recover`). A delivery is only a hint to look at the row.

What RQ 3.0 guarantees, and what it does not (read in its source, rq/worker and rq/registry.py):
a dequeued job is put in the queue's StartedJobRegistry with a heartbeat; when its worker dies
(SIGKILL, OOM), the entry expires and a later worker's maintenance moves it to the
FailedJobRegistry as an AbandonedJobError (or retries it if it had `Retry` left). That is
at-least-once delivery at best, found only after the heartbeat TTL, and RQ knows nothing of the
job's database effects: a job killed after its effects were committed would run again in full,
one killed before would only be marked failed.

What the table adds, in `run_job`:

1. **Claim**: the row is locked (`SELECT … FOR UPDATE SKIP LOCKED`) only if it is `queued` and
   due, or `running` with an expired lease; it becomes `running`, attempts + 1, lease until now +
   KIM_JOB_LEASE_SECONDS, committed. A duplicate delivery finds the row done, leased or locked and
   does nothing.
2. **Work**: the row is locked again, the handler runs, and the row is marked `done` IN THE SAME
   TRANSACTION as the handler's effects. A worker killed mid-job (SIGKILL) leaves the row `running`
   and the effects uncommitted; once the lease has expired it is claimed again and runs in full:
   never half-done, never twice in effect. Files it wrote are orphans, removed by `flask storage
   sweep`. Handlers registered with `transactional=False` (the daily jobs, which commit task by
   task and are idempotent through `job_run`) commit their own work; their row is marked done after.
3. **Retries**: a handler that raises is rolled back; the row goes back to `queued` with
   `run_after` = now + the next of KIM_JOB_RETRY_DELAYS, and to `failed` with its last error when
   they are used up (also when the worker died in every attempt: attempts are counted at the
   claim, so a job that kills its worker cannot loop for ever). `flask jobs failed` lists them,
   `flask jobs retry ID` queues one again.

RQ's own retry and result keeping are not used: jobs never raise into RQ (errors are recorded in
the row) and results are dropped at once (`result_ttl=0`).
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import click
from flask import current_app, g, has_request_context
from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, SmallInteger, String, Text, and_, func, or_, select
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from kim_platform.core import clock
from kim_platform.core.redis import REDIS_ERRORS, connect, shared_redis
from kim_platform.core.transaction import job_transaction
from kim_platform.extensions import db

log = logging.getLogger(__name__)

EXTENSION = "kim_job_handlers"
QUEUE_NAME = "kim"
RQ_FUNCTION = "kim_platform.core.queue.perform"
_PUSH_AFTER_COMMIT = "kim_jobs_to_push"
_PUSH_AFTER_RESPONSE = "kim_jobs_after_response"

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATES = (QUEUED, RUNNING, DONE, FAILED)


class BackgroundJob(db.Model):
    """One piece of background work and where it stands; the worker's source of truth."""

    __tablename__ = "background_job"
    __table_args__ = (
        # The worker's recovery looks for rows due or abandoned; done and failed rows are history.
        Index("ix_background_job_due", "run_after", postgresql_where="state IN ('queued', 'running')"),
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict] = mapped_column(JSONB, default=dict)
    state: Mapped[str] = mapped_column(String(10), default=QUEUED, server_default=QUEUED)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    run_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The same work enqueued twice (a mail's Message-ID, a photo, a day) is one job.
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)


@dataclass(frozen=True)
class Handler:
    kind: str
    func: Callable[[dict], object]
    transactional: bool = True
    # Mails carry links with tokens: their payload is emptied once the job is done.
    keep_payload: bool = True


def job_handler(app, kind: str, func: Callable[[dict], object], *, transactional: bool = True,
                keep_payload: bool = True) -> None:
    """Register the handler of `kind` in `app` (from a package's init_app, like daily_task).

    `func(payload)` works on db.session and only flushes; its effects commit together with the
    job's `done` (see the module's docstring). With `transactional=False` it commits its own work
    and must be idempotent by itself."""
    handlers = app.extensions.setdefault(EXTENSION, {})
    if kind in handlers:
        raise ValueError(f"job handler {kind!r} is registered twice")
    handlers[kind] = Handler(kind, func, transactional, keep_payload)


def handlers() -> dict[str, Handler]:
    return current_app.extensions.get(EXTENSION, {})


def enabled() -> bool:
    """Whether slow work goes through the queue: KIM_JOBS=queue, or by default when KIM_REDIS_URL is set."""
    config = current_app.config
    mode = config.get("JOBS", "auto")
    return mode == "queue" or (mode == "auto" and bool(config.get("REDIS_URL")))


def retry_delays() -> list[float]:
    return list(current_app.config.get("JOB_RETRY_DELAYS", (30, 120, 600, 3600, 14400)))


def max_attempts() -> int:
    return len(retry_delays()) + 1


def lease() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("JOB_LEASE_SECONDS", 900)))


# --- enqueueing -------------------------------------------------------------------------------

def enqueue(kind: str, payload: dict, dedup_key: str | None = None, session=None) -> int:
    """Insert a job in the current transaction and push it to RQ once that commits; its id.

    With `dedup_key` already used, nothing is inserted and the existing job's id is returned (a
    job done long ago included: the work it stands for was done)."""
    if kind not in handlers():
        raise ValueError(f"no job handler for {kind!r}")
    session = session or db.session
    now = clock.utcnow()
    statement = insert(BackgroundJob).values(kind=kind, payload=payload, state=QUEUED, attempts=0, run_after=now,
                                             created_at=now, dedup_key=dedup_key)
    if dedup_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["dedup_key"])
    job_id = session.scalar(statement.returning(BackgroundJob.id))
    if job_id is None:  # the same work was enqueued before
        return session.scalar(select(BackgroundJob.id).where(BackgroundJob.dedup_key == dedup_key))
    session.info.setdefault(_PUSH_AFTER_COMMIT, []).append(job_id)
    return job_id


@event.listens_for(Session, "after_commit")
def _push_committed(session) -> None:
    ids = session.info.pop(_PUSH_AFTER_COMMIT, None)
    if not ids:
        return
    if has_request_context():  # no request waits on Redis: the push happens after the response
        g.setdefault(_PUSH_AFTER_RESPONSE, []).extend(ids)
    else:
        push(ids)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction) -> None:
    """The outermost transaction rolled back: its jobs do not exist. (A savepoint's rollback keeps
    the list: pushing the id of a row that was rolled back is harmless, its delivery finds nothing.)"""
    if previous_transaction.parent is None:
        session.info.pop(_PUSH_AFTER_COMMIT, None)


def _push_after_response(response):
    ids = g.pop(_PUSH_AFTER_RESPONSE, None)
    if ids:
        connection, timeout = shared_redis(), _timeout()  # read now: the app context is gone by then
        response.call_on_close(lambda: push(ids, connection, timeout))
    return response


def rq_queue(connection):
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)


def rq_job_id(job_id: int) -> str:
    return f"kim-job-{job_id}"


def _timeout() -> int:
    """RQ's job timeout: the lease, which is how long a job may take before it counts as abandoned."""
    return int(lease().total_seconds())


def push(ids, connection=None, timeout: int | None = None) -> int:
    """Hand job ids to RQ; a Redis that is down is logged, not raised: the rows wait for `recover`."""
    connection = connection if connection is not None else shared_redis()
    if connection is None or not ids:
        return 0
    queue = rq_queue(connection)
    timeout = timeout or _timeout()
    try:
        with connection.pipeline() as pipeline:
            for job_id in ids:
                queue.enqueue_call(RQ_FUNCTION, args=(int(job_id),), job_id=rq_job_id(job_id), result_ttl=0,
                                   failure_ttl=7 * 24 * 3600, timeout=timeout, description=f"job {job_id}",
                                   pipeline=pipeline)
            pipeline.execute()
    except REDIS_ERRORS as error:
        log.warning("%d job(s) not pushed to Redis (%s); the worker's recovery will push them",
                    len(ids), str(error).splitlines()[0])
        return 0
    return len(ids)


def recover(connection=None, force: bool = False, limit: int = 1000) -> int:
    """Push the rows that should be running: queued and due, or running with an expired lease.

    Rows whose RQ job is still waiting or running are left alone, unless `force` (the worker
    starting: nothing of ours runs then, and a job RQ still calls started is one a killed worker
    left behind; another worker still running sees such a job pushed once RQ's maintenance has
    moved it to the failed registry, a heartbeat TTL later). Returns how many were pushed."""
    from rq.job import Job, JobStatus

    connection = connection if connection is not None else shared_redis()
    now = clock.utcnow()
    ids = list(db.session.scalars(
        select(BackgroundJob.id).where(or_(
            and_(BackgroundJob.state == QUEUED, BackgroundJob.run_after <= now),
            and_(BackgroundJob.state == RUNNING, BackgroundJob.locked_until < now)))
        .order_by(BackgroundJob.run_after).limit(limit)))
    if not ids or connection is None:
        return 0
    if not force:
        from rq.serializers import JSONSerializer

        active = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
        jobs = Job.fetch_many([rq_job_id(i) for i in ids], connection=connection, serializer=JSONSerializer)
        ids = [i for i, job in zip(ids, jobs) if job is None or job.get_status(refresh=False) not in active]
    return push(ids, connection)


# --- running ----------------------------------------------------------------------------------

def _claim(job_id: int) -> tuple[int, Handler] | str:
    """Step 1, in a transaction of its own: the row becomes ours (running, attempts + 1, a lease)."""
    now = clock.utcnow()
    row = db.session.scalar(
        select(BackgroundJob).where(BackgroundJob.id == job_id, or_(
            and_(BackgroundJob.state == QUEUED, BackgroundJob.run_after <= now),
            and_(BackgroundJob.state == RUNNING, BackgroundJob.locked_until < now)))
        .with_for_update(skip_locked=True))
    if row is None:  # done, failed, not due, leased or being worked on: a duplicate delivery
        return "skipped"
    handler = handlers().get(row.kind)
    if handler is None or row.attempts >= max_attempts():
        row.state, row.finished_at, row.locked_until = FAILED, now, None
        row.last_error = (f"no handler for {row.kind!r}" if handler is None else
                          f"the worker stopped during each of {row.attempts} attempts") + \
            (f"; before: {row.last_error}" if row.last_error else "")
        return "failed"
    row.state, row.attempts, row.locked_until = RUNNING, row.attempts + 1, now + lease()
    return row.attempts, handler


def _mark_done(row: BackgroundJob, handler: Handler) -> None:
    row.state, row.finished_at, row.locked_until, row.last_error = DONE, clock.utcnow(), None, None
    if not handler.keep_payload:
        row.payload = {}


def _ours(job_id: int, attempt: int) -> BackgroundJob | None:
    """The row locked, if it is still the attempt we claimed (not claimed again after our lease)."""
    return db.session.scalar(select(BackgroundJob).where(
        BackgroundJob.id == job_id, BackgroundJob.state == RUNNING, BackgroundJob.attempts == attempt)
        .with_for_update())


def _work(job_id: int, attempt: int, handler: Handler) -> str:
    """Step 2: the handler's effects and the row's `done` in one transaction (transactional
    handlers), or the handler's own commits and then `done` (the others)."""
    if handler.transactional:
        with job_transaction():
            row = _ours(job_id, attempt)
            if row is None:
                return "skipped"
            handler.func(dict(row.payload))
            db.session.flush()
            _mark_done(row, handler)
        return DONE
    with job_transaction():
        payload = dict(db.session.get(BackgroundJob, job_id).payload)
    handler.func(payload)
    with job_transaction():  # also commits whatever the handler left open
        row = _ours(job_id, attempt)
        if row is not None:
            _mark_done(row, handler)
    return DONE


def run_job(job_id: int) -> str:
    """Run one job if it is due (see the module's docstring); 'done', 'retry', 'failed' or 'skipped'."""
    with job_transaction():
        claimed = _claim(job_id)
    if isinstance(claimed, str):
        return claimed
    attempt, handler = claimed
    try:
        return _work(job_id, attempt, handler)
    except Exception as error:  # noqa: BLE001 - every failure is recorded in the row (rolled back by the edge)
        log.warning("job %s (%s) attempt %d failed: %s", job_id, handler.kind, attempt, error, exc_info=True)
        with job_transaction():
            return _record_failure(job_id, attempt, error)


def _record_failure(job_id: int, attempt: int, error: Exception) -> str:
    row = _ours(job_id, attempt)
    if row is None:
        return "skipped"
    delays = retry_delays()
    row.last_error = f"{type(error).__name__}: {error}"[:4000]
    row.locked_until = None
    if attempt > len(delays):
        row.state, row.finished_at = FAILED, clock.utcnow()
        return "failed"
    row.state, row.run_after = QUEUED, clock.utcnow() + timedelta(seconds=delays[attempt - 1])
    return "retry"


def perform(job_id: int) -> str:
    """The RQ job body (run in the worker's app context, see KimWorker): our `run_job`."""
    try:
        return run_job(job_id)
    finally:
        db.session.remove()


def retry_failed(job_id: int) -> bool:
    """Queue a failed job again with fresh attempts (the direktorat's `flask jobs retry`)."""
    row = db.session.get(BackgroundJob, job_id, with_for_update=True)
    if row is None or row.state != FAILED:
        return False
    row.state, row.attempts, row.run_after, row.finished_at = QUEUED, 0, clock.utcnow(), None
    db.session.info.setdefault(_PUSH_AFTER_COMMIT, []).append(job_id)
    return True


def counts() -> dict[tuple[str, str], int]:
    """Jobs per (kind, state)."""
    rows = db.session.execute(select(BackgroundJob.kind, BackgroundJob.state, func.count())
                              .group_by(BackgroundJob.kind, BackgroundJob.state))
    return {(kind, state): n for kind, state, n in rows}


def failed_jobs(limit: int = 100) -> list[BackgroundJob]:
    return list(db.session.scalars(select(BackgroundJob).where(BackgroundJob.state == FAILED)
                                   .order_by(BackgroundJob.finished_at.desc()).limit(limit)))


# --- the worker -------------------------------------------------------------------------------

def make_worker(app, connection=None):
    """The one worker: RQ's SimpleWorker (jobs run in this process, no fork: a SIGKILL ends the
    job with the worker, and the app's connection pool is never shared with a child), each job in
    a fresh app context, and our recovery as a maintenance task every KIM_JOB_POLL_SECONDS."""
    from rq.serializers import JSONSerializer
    from rq.worker import SimpleWorker

    poll = max(1, int(app.config.get("JOB_POLL_SECONDS", 10)))

    class KimWorker(SimpleWorker):
        def perform_job(self, job, queue, execution):
            with app.app_context():
                return super().perform_job(job, queue, execution)

        def run_maintenance_tasks(self):
            super().run_maintenance_tasks()
            with app.app_context():
                try:
                    pushed = recover(self.connection)
                except Exception:  # noqa: BLE001 - the database may be away: try at the next tick
                    log.exception("job recovery failed")
                    pushed = 0
                finally:
                    db.session.remove()
            if pushed:
                self.log.info("recovery pushed %d job(s)", pushed)

    if connection is None:
        connection = connect(app.config["REDIS_URL"], socket_timeout=None)
    # The dequeue blocks at most worker_ttl - 15 s: the maintenance (our recovery) runs between.
    return KimWorker([rq_queue(connection)], connection=connection, serializer=JSONSerializer,
                     worker_ttl=poll + 15, maintenance_interval=poll)


def work(app, burst: bool = False, connection=None) -> int:
    """Run the worker: recovery first (`force`: a job left by a killed worker is pushed again), then
    jobs until stopped; with `burst`, until nothing is due any more (retries due now included).
    Returns the number of recovery pushes (for tests)."""
    connection = connection if connection is not None else connect(app.config["REDIS_URL"], socket_timeout=None)
    with app.app_context():
        pushed = recover(connection, force=True)
        db.session.remove()
    if not burst:
        make_worker(app, connection).work(burst=False)
        return pushed
    while True:
        worked = make_worker(app, connection).work(burst=True)
        with app.app_context():
            again = recover(connection)
            db.session.remove()
        pushed += again
        if not worked and not again:
            return pushed


# --- CLI (attached to `flask jobs` by core/jobs.py) --------------------------------------------

def _require_queue() -> None:
    if not enabled() or not current_app.config.get("REDIS_URL"):
        raise click.ClickException("the job queue is not configured (set KIM_REDIS_URL)")


@click.command("worker")
@click.option("--burst", is_flag=True, help="stop when no job is due (tests, one-off runs)")
def worker_command(burst: bool) -> None:
    """The job worker (one process): mails, photo re-encoding, the daily jobs."""
    _require_queue()
    work(current_app._get_current_object(), burst=burst)


@click.command("status")
def status_command() -> None:
    """Jobs per kind and state, and the length of the Redis queue."""
    for (kind, state), n in sorted(counts().items()):
        click.echo(f"{kind:<24} {state:<8} {n}")
    connection = shared_redis()
    if connection is not None:
        try:
            click.echo(f"redis queue {QUEUE_NAME!r}: {rq_queue(connection).count} waiting")
        except REDIS_ERRORS as error:
            click.echo(f"redis: unreachable ({error})")


@click.command("failed")
@click.option("--limit", default=100, show_default=True)
def failed_command(limit: int) -> None:
    """Jobs that used up their attempts, newest first, with their last error."""
    rows = failed_jobs(limit)
    for row in rows:
        click.echo(f"{row.id}  {row.kind}  attempts={row.attempts}  failed={row.finished_at:%Y-%m-%d %H:%M}Z  "
                   f"{(row.last_error or '').splitlines()[0] if row.last_error else ''}")
    if not rows:
        click.echo("no failed jobs")


@click.command("retry")
@click.argument("job_id", type=int)
def retry_command(job_id: int) -> None:
    """Queue a failed job again, with fresh attempts."""
    from kim_platform.core.transaction import cli_transaction

    with cli_transaction():
        found = retry_failed(job_id)
    if not found:
        raise click.ClickException(f"no failed job {job_id}")
    click.echo(f"job {job_id} queued again")


def init_app(app) -> None:
    """Push jobs after the response. Registered before core.transaction, so its after_request runs
    after the commit (after_request functions run in reverse order)."""
    app.extensions.setdefault(EXTENSION, {})
    app.after_request(_push_after_response)
