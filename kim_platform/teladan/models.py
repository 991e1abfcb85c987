"""Stored KIM teladan scores (see scoring.py for the formula)."""
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Identity, Index, Integer, func, text
from sqlalchemy.orm import Mapped, mapped_column

from kim_platform.extensions import db


class KimScore(db.Model):
    """The score of a verified KIM as of `as_of`, and as of 90 days before (to see who dropped).

    Recomputed in the transaction that changes the KIM's reports, photos, members or profile, and
    for every KIM by `flask teladan recompute` (recency and regularity decay with time alone)."""

    __tablename__ = "kim_score"
    __table_args__ = (
        Index("ix_kim_score_score", "score"),
        # The ranking of a region counts the eligible scores from an index (a37f0c5e9d21).
        Index("ix_kim_score_eligible", "kim_id", postgresql_where=text("eligible")),
    )

    kim_id: Mapped[int] = mapped_column(ForeignKey("kim.id", ondelete="CASCADE"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    score: Mapped[float] = mapped_column(Float)
    regularity: Mapped[float] = mapped_column(Float)
    recency: Mapped[float] = mapped_column(Float)
    variety: Mapped[float] = mapped_column(Float)
    reach: Mapped[float] = mapped_column(Float)
    evidence: Mapped[float] = mapped_column(Float)
    completeness: Mapped[float] = mapped_column(Float)
    active_months: Mapped[int] = mapped_column(Integer)
    last_report_on: Mapped[date | None] = mapped_column(Date)
    eligible: Mapped[bool] = mapped_column(Boolean)
    score_90_days_ago: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TeladanRun(db.Model):
    """One full recompute: when, how many KIMs, how long."""

    __tablename__ = "teladan_run"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    kims: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
