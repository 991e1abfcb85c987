"""The daily jobs: one idempotent `flask jobs daily` (cron) running every package's daily task in order.

Core knows no domain: each package registers its tasks from its init_app,

    daily_task(app, "health.states", order=10, func=lambda day: ...)

and the runner runs them by `order` (then name). Each task runs in its own transaction together
with its `job_run` row (name, day): an interrupted run started again skips the tasks already
finished that day and does the rest, so the day's work is done once. A task returns a short summary,
or (summary, mails) with mails as (to, subject, body): they are sent after the commit, so a mail only
speaks of what was recorded (a task that claims what it mails, as the SK reminders do, then mails
nothing twice). A task that must not hold a transaction open (deleting files) is registered with
`transactional=False`: it is recorded once it returns."""
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import Date, DateTime, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from kim_platform.core import clock
from kim_platform.extensions import db

EXTENSION = "kim_daily_tasks"
log = logging.getLogger(__name__)


class JobRun(db.Model):
    """A daily task finished on a day (its summary); the runner skips it that day."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    summary: Mapped[str | None] = mapped_column(String(300))


@dataclass(frozen=True)
class DailyTask:
    name: str
    order: int
    func: Callable[[date], object]
    transactional: bool = True


def daily_task(app, name: str, order: int, func: Callable[[date], object], *, transactional: bool = True) -> None:
    """Register a daily task in `app` (from a package's init_app); names are unique."""
    tasks = app.extensions.setdefault(EXTENSION, {})
    if name in tasks:
        raise ValueError(f"daily task {name!r} is registered twice")
    tasks[name] = DailyTask(name, order, func, transactional)


def daily_tasks() -> list[DailyTask]:
    """The current app's daily tasks, in the order they run."""
    return sorted(current_app.extensions.get(EXTENSION, {}).values(), key=lambda task: (task.order, task.name))


def _finished(day: date) -> set[str]:
    return set(db.session.scalars(select(JobRun.name).where(JobRun.day == day)))


def _split(result) -> tuple[str, list]:
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], list):
        return str(result[0]), result[1]
    return ("" if result is None else str(result)), []


def run_daily(day: date | None = None, echo: Callable[[str], None] = lambda line: None,
              only: tuple[str, ...] = ()) -> list[str]:
    """Run the day's tasks not finished yet, each committed with its job_run row; returns the names run.

    A task that fails rolls back alone and stops the run (the next ones may depend on it): run
    again, and it starts at that task."""
    from kim_platform.core import queue
    from kim_platform.core.mail import send_mail
    from kim_platform.core.transaction import cli_transaction

    day = day or clock.today()
    done = _finished(day)
    ran = []
    queued = queue.enabled()
    for task in daily_tasks():
        if task.name in done or (only and task.name not in only):
            continue
        with cli_transaction():  # the task and its job_run row commit together, or neither
            summary, outgoing = _split(task.func(day))
            db.session.add(JobRun(name=task.name, day=day, summary=summary[:300] or None))
            if queued:  # mail jobs commit with the task: none is lost, none speaks of a rollback
                for mail in outgoing:
                    send_mail(*mail)
        if not queued:
            for mail in outgoing:
                send_mail(*mail)
        ran.append(task.name)
        echo(f"{task.name}: {summary or 'done'}" + (f" ({len(outgoing)} mails)" if outgoing else ""))
    return ran


jobs_cli = AppGroup("jobs", help="Scheduled work (cron) and the job worker.")


DAILY_JOB = "jobs.daily"


def enqueue_daily(day: date | None = None) -> int:
    """Hand the day's run to the worker (one job per day: enqueuing it again is a no-op); its job id."""
    from kim_platform.core import queue

    day = day or clock.today()
    return queue.enqueue(DAILY_JOB, {"day": day.isoformat()}, dedup_key=f"{DAILY_JOB}:{day.isoformat()}")


def _daily_job(payload: dict) -> None:
    """The worker's daily run: `run_daily` commits task by task, so a run cut short (the worker
    killed) and run again does only the tasks not recorded in job_run."""
    ran = run_daily(date.fromisoformat(payload["day"]))
    log.info("daily job %s: %s", payload["day"], ", ".join(ran) or "nothing to do")


@jobs_cli.command("daily")
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="the day to record the run under (default: today in Jakarta)")
@click.option("--only", multiple=True, help="run only this task (repeatable)")
@click.option("--enqueue", "to_queue", is_flag=True,
              help="let the job worker run it (needs the job queue, KIM_REDIS_URL)")
def daily_command(day, only, to_queue) -> None:
    """Run every daily task not yet finished today, in order; safe to run again (cron: once a day)."""
    if to_queue:
        from kim_platform.core import queue
        from kim_platform.core.transaction import cli_transaction

        if not queue.enabled():
            raise click.ClickException("the job queue is not configured (set KIM_REDIS_URL)")
        if only:
            raise click.ClickException("--only runs here, not in the worker")
        with cli_transaction():
            job_id = enqueue_daily(day.date() if day else None)
        click.echo(f"daily job {job_id} queued")
        return
    ran = run_daily(day.date() if day else None, echo=click.echo, only=tuple(only))
    if not ran:
        click.echo("nothing to do: every daily task has finished today")


@jobs_cli.command("list")
def list_command() -> None:
    """The daily tasks in the order they run, and whether each has finished today."""
    done = _finished(clock.today())
    for task in daily_tasks():
        click.echo(f"{task.order:>4}  {task.name}  {'done' if task.name in done else 'to do'}")


def _add_queue_commands() -> None:
    from kim_platform.core import queue

    for command in (queue.worker_command, queue.status_command, queue.failed_command, queue.retry_command):
        jobs_cli.add_command(command)


_add_queue_commands()


def init_app(app) -> None:
    """Core's own daily task: the sweep of uploaded files no row refers to (last: nothing after it
    writes files); and the job that runs the daily tasks in the worker."""
    from kim_platform.core.queue import job_handler
    from kim_platform.core.storage import sweep_orphans

    app.extensions.setdefault(EXTENSION, {})
    job_handler(app, DAILY_JOB, _daily_job, transactional=False)
    daily_task(app, "storage.sweep", 900, lambda day: f"{len(sweep_orphans(db.session))} orphan files removed")
