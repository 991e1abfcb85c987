"""KIM health (issue 19): the state computed each day with its reasons, the SK reminders and the
monthly digests already sent (so a rerun sends nothing), and the pembina's contact notes."""
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Identity, Index, Integer, \
    String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kim_platform.extensions import db
from kim_platform.kims.slots import HEALTH_STATES
from kim_platform.regions.models import CODE_TYPE


class HealthState:
    """A KIM's health state codes (kims.slots.HEALTH_STATES), as stored and as the API speaks them."""

    AKTIF, PERLU_PENDAMPINGAN, VAKUM = HEALTH_STATES
    ALL = HEALTH_STATES
    NEEDS_ATTENTION = (PERLU_PENDAMPINGAN, VAKUM)


class Reason:
    """Why a KIM is not aktif (one or more, stored with its state)."""

    NO_REPORT_90 = "no_report_90"  # no published report for 90 days or more (perlu pendampingan)
    NO_REPORT_180 = "no_report_180"  # none for 180 days or more (vakum)
    SK_EXPIRED = "sk_expired"  # the masa berlaku has passed
    SK_MISSING = "sk_missing"  # no SK recorded (no number, date or scan)
    PENGURUS_MISSING = "pengurus_missing"  # ketua, sekretaris or bendahara not named
    FEW_MEMBERS = "few_members"  # fewer than three members
    UNCONFIRMED = "unconfirmed"  # its admins have not confirmed the data for 13 months

    ALL = (NO_REPORT_90, NO_REPORT_180, SK_EXPIRED, SK_MISSING, PENGURUS_MISSING, FEW_MEMBERS, UNCONFIRMED)


STATE_LABELS = {
    HealthState.AKTIF: _l("active"),
    HealthState.PERLU_PENDAMPINGAN: _l("needs support"),
    HealthState.VAKUM: _l("dormant (vakum)"),
}
REASON_LABELS = {
    Reason.NO_REPORT_90: _l("no report for 90 days or more"),
    Reason.NO_REPORT_180: _l("no report for 180 days or more"),
    Reason.SK_EXPIRED: _l("SK expired"),
    Reason.SK_MISSING: _l("no SK recorded"),
    Reason.PENGURUS_MISSING: _l("ketua, sekretaris or bendahara not named"),
    Reason.FEW_MEMBERS: _l("fewer than three members"),
    Reason.UNCONFIRMED: _l("data not confirmed for 13 months"),
}


def state_label(state: str):
    return STATE_LABELS.get(state, state)


def reason_label(reason: str):
    return REASON_LABELS.get(reason, reason)


class KimHealth(db.Model):
    """One row per verified KIM, rewritten each day by health.queries.compute_states (set-based)."""

    __tablename__ = "kim_health"
    __table_args__ = (
        CheckConstraint(f"state IN {HealthState.ALL}", name="state"),
        Index("ix_kim_health_state", "state", "kim_id"),
    )

    kim_id: Mapped[int] = mapped_column(ForeignKey("kim.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list, server_default="{}")
    last_report_on: Mapped[date | None] = mapped_column(Date)
    computed_on: Mapped[date] = mapped_column(Date)
    # Since when the KIM is in this state, and the state before: the monthly digest tells the changes.
    state_since: Mapped[date] = mapped_column(Date)
    previous_state: Mapped[str | None] = mapped_column(String(20))


class SkReminder(db.Model):
    """An SK expiry reminder sent (60 or 14 days before the end): never sent twice for the same SK end."""

    __tablename__ = "kim_sk_reminder"

    kim_id: Mapped[int] = mapped_column(ForeignKey("kim.id", ondelete="CASCADE"), primary_key=True)
    valid_until: Mapped[date] = mapped_column(Date, primary_key=True)
    days_before: Mapped[int] = mapped_column(Integer, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ContactNote(db.Model):
    """"Sudah dihubungi": a pembina's note that the KIM was contacted, seen by the next pembina."""

    __tablename__ = "kim_contact_note"
    __table_args__ = (
        Index("ix_kim_contact_note_kim_id", "kim_id", "created_at"),
        Index("ix_kim_contact_note_author_id", "author_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kim_id: Mapped[int] = mapped_column(ForeignKey("kim.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    author = relationship("User", lazy="joined")


class HealthDigest(db.Model):
    """The monthly health digest sent to a pembina for a month (first day): once per month."""

    __tablename__ = "health_digest"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class KimHealthRegion(db.Model):
    """Health states per region code ('' is the nation, then provinsi, kabupaten, kecamatan, desa):
    the verified KIMs in each state, rebuilt by the daily run in one INSERT … SELECT (and moved by
    one when a KIM's admins confirm its data). Coverage shows them beside "registered"."""

    __tablename__ = "kim_health_region"

    code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    aktif: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    perlu_pendampingan: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    vakum: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The day of the states counted (the daily run's day).
    computed_on: Mapped[date] = mapped_column(Date)
    # When the figures were last written; the nation's row is written by every change, so its
    # value is the version of every answer built on health states (map tiles, coverage exports).
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
