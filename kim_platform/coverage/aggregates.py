"""Maintenance of the trigger-kept coverage aggregates (see coverage/models.py)."""
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection

TRIGGERS = (("kim", "kim_stats"), ("kim", "coverage_kim"), ("kim", "coverage_kim_delete"),
            ("activity", "coverage_activity"))


@contextmanager
def bulk_writes(connection: Connection):
    """Bulk loads skip the per-row triggers and recompute every aggregate once at the end.

    ALTER TABLE is transactional: if the load fails, the triggers come back with the rollback."""
    disable_triggers(connection)
    yield
    enable_triggers_and_rebuild(connection)


def disable_triggers(connection: Connection) -> None:
    for table, trigger in TRIGGERS:
        connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}"))


def enable_triggers_and_rebuild(connection: Connection) -> None:
    for table, trigger in TRIGGERS:
        connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}"))
    rebuild(connection)


def rebuild(connection: Connection) -> None:
    """Recompute region_kim_stats and the coverage figures from the raw tables."""
    connection.execute(text("SELECT kim_stats_rebuild()"))
    connection.execute(text("SELECT coverage_rebuild()"))


def compact(connection: Connection) -> int:
    """Fold the delta log into coverage_stat; returns the number of delta rows folded.

    Writers already fold it every 200 report changes; this is for cron or after bulk edits."""
    return connection.execute(text("SELECT coverage_compact()")).scalar_one()
