"""Aggregates behind /cakupan, written only by database triggers (see migration 7c1e5a9d2f40).

Every path that changes a KIM or a report (pages, API, CLI) goes through the triggers, so the
figures stay exact in the same transaction. Region totals are kept as an insert-only delta log
(`coverage_delta`) folded into `coverage_stat` by `coverage_compact()`: concurrent reports
from one province never wait on, or deadlock over, the province's counter rows. Readers sum
both tables. `coverage_rebuild()` recomputes everything from the raw tables after bulk loads.
"""
from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from kim_platform.extensions import db
from kim_platform.regions.models import CODE_TYPE


class _CoverageFigures:
    """Per region code ('' is the nation) and day: changes of each figure on that day.

    activities: published reports of verified or inactive KIMs, by the report's date and desa;
    kims_last / desa_last: verified KIMs / desa whose latest published report is that day;
    verified: verified KIMs by their verification date;
    kims_month / desa_month: on the first day of a month, verified KIMs / desa with a
    published report that month."""

    code: Mapped[str] = mapped_column(CODE_TYPE)
    day: Mapped[date] = mapped_column(Date)
    activities: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    kims_last: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    desa_last: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    verified: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    kims_month: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    desa_month: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CoverageStat(_CoverageFigures, db.Model):
    __tablename__ = "coverage_stat"
    code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class CoverageDelta(_CoverageFigures, db.Model):
    __tablename__ = "coverage_delta"
    __table_args__ = (Index("ix_coverage_delta_code_day", "code", "day"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)


class KimMonth(db.Model):
    """Published reports per KIM and month, whatever the KIM's status."""

    __tablename__ = "kim_month"
    kim_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    activities: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DesaMonth(db.Model):
    """Verified KIMs of a desa with a published report in a month."""

    __tablename__ = "desa_month"
    desa_code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    kims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DesaLastActivity(db.Model):
    """Date of the latest published report of the desa's verified KIMs."""

    __tablename__ = "desa_last_activity"
    desa_code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    last_on: Mapped[date | None] = mapped_column(Date)
