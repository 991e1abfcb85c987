"""One transaction per request, and per CLI command, committed at the edge (as Indico's RH does).

Services only flush. A write request (POST, PUT, PATCH, DELETE) commits once, after its view
answered below 400; an error answer or an exception rolls everything back, and so does a view
that calls `discard()` before it answers with a redirect. Reads (GET, HEAD, OPTIONS) never
commit, except a view marked `@writes_on_get` (a link in a mail that confirms something).

A commit that fails becomes a clean error answer, never a success whose change was lost:
409 for a conflict (a unique constraint hit by a concurrent request), 503 when the database is
away. The rollback drops the request's queued mail (core/mail.py), deletes its newly written
files and keeps the files it meant to delete (core/storage.py).

CLI commands that write run their work inside `with cli_transaction():`, background jobs inside
`with job_transaction():`.
"""
import functools
import logging
from contextlib import contextmanager

from flask import current_app, g, request, session
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DISCARD = "kim_transaction_discard"
_BROKEN = "kim_transaction_broken"
_WRITES_ON_GET = "kim_transaction_writes_on_get"
_BOOKKEEPING = "kim_transaction_bookkeeping"


def bookkeeping(work) -> None:
    """Run `work()` (statements on db.session) in a transaction of its own after the request's
    transaction has ended, committed or rolled back, whatever the method or the answer.

    For records about the request rather than of it (an API token's last use): a read must keep
    them, and a refused write must not take them along. Errors are logged, never answered."""
    g.setdefault(_BOOKKEEPING, []).append(work)


def _run_bookkeeping() -> None:
    from kim_platform.extensions import db

    for work in g.pop(_BOOKKEEPING, []):
        try:
            work()
            db.session.commit()
        except Exception as error:  # noqa: BLE001 - bookkeeping never changes the answer
            log.warning("Bookkeeping after the request failed: %s", str(error).splitlines()[0])
            _rollback_quietly()


def discard() -> None:
    """Roll this request's changes back at the edge although it answers with success.

    For a view that catches a service's refusal, flashes it and redirects (a 302)."""
    g.setdefault(_DISCARD, True)


def recover_session() -> None:
    """Roll back a session whose statement failed, so the page being built can still query.

    Whatever the request wrote is gone then; a write request that goes on to answer with
    success answers 503 instead (see `_finish`)."""
    from kim_platform.extensions import db

    g.setdefault(_BROKEN, True)
    db.session.rollback()


def writes_on_get(view):
    """Mark a GET view that changes state (the confirmation link of a mail): it commits like a POST."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.setdefault(_WRITES_ON_GET, True)
        return view(*args, **kwargs)

    return wrapper


def _rollback_quietly() -> None:
    """Roll back; a connection the database dropped is left to the teardown (core/errors.py)."""
    from kim_platform.extensions import db

    try:
        db.session.rollback()
    except DBAPIError as error:
        log.warning("Rollback on a lost connection: %s", str(error).splitlines()[0])


def _commits(response) -> bool:
    writes = request.method in WRITE_METHODS or g.get(_WRITES_ON_GET, False)
    return writes and response.status_code < 400 and not g.get(_DISCARD, False)


def _finish(response):
    """after_request: commit a successful write, roll back everything else."""
    from kim_platform.extensions import db

    if not _commits(response):
        _rollback_quietly()
        _run_bookkeeping()
        return response
    try:
        if g.get(_BROKEN, False):
            raise _LostWrites("the session was rolled back while the request was answered")
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - every failed commit must become an error answer
        _rollback_quietly()
        _run_bookkeeping()
        return _failed(error)
    _run_bookkeeping()
    return response


class _LostWrites(RuntimeError):
    """`recover_session()` rolled the request's writes back before it could commit them."""


def _failed(error: Exception):
    """The answer when the commit did not happen: nothing was saved, so nothing says it was."""
    from kim_platform.core import errors

    if "_flashes" in session:
        session.pop("_flashes")  # "saved" must not greet the next page
    if isinstance(error, _LostWrites):
        answer = errors.handle_database_unavailable(error)
    else:  # 409 for a lost race, 503 for a lost database, else a logged 500: never a success
        answer = errors.handle_unexpected(error)
    return current_app.make_response(answer)


@contextmanager
def cli_transaction():
    """A CLI command's edge: commit when the block ends, roll back when it raises.

    A service's refusal (DomainError) ends the command with its message and exit status 1."""
    import click

    from kim_platform.core.domain import DomainError
    from kim_platform.extensions import db

    try:
        yield db.session
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error.message)) from None
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


@contextmanager
def job_transaction():
    """A background job's edge (core/queue.py), and that of work done outside any request or
    command (a mail enqueued on its own): commit when the block ends, roll back when it raises,
    and raise again (the job's failure is recorded by the caller)."""
    from kim_platform.extensions import db

    try:
        yield db.session
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


@contextmanager
def cli_read_only():
    """A CLI command that must leave the database as it found it (`flask regions diff`): its work
    runs in a savepoint that is always rolled back, whatever it reads or a helper writes."""
    from kim_platform.extensions import db

    savepoint = db.session.begin_nested()
    try:
        yield db.session
    finally:
        savepoint.rollback()


def init_app(app) -> None:
    """Register the edge. It must run before the mail hand-over, so it is registered after it
    (after_request functions run in reverse order): a failed commit drops the queued mail."""
    app.after_request(_finish)
