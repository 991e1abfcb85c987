"""Aspirations and hoax reports (issue 18): what residents raise with their KIM, routed to the
pembina who handles it, moved through one state machine with working-day deadlines, and answered
back to the desa.

The state machine is defined once, here (`TRANSITIONS`): each action names the states it leaves
from, the state it leads to, who performs it (the handler or the reporting KIM) and the fields it
requires. Services, pages, the API and the permission rule all read it.
"""
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kim_platform.core.storage import STORED_FILE
from kim_platform.extensions import db
from kim_platform.regions.models import CODE_TYPE

# --- kinds and topics ---------------------------------------------------------------------------
ASPIRASI, PENGADUAN, INFORMASI, HOAKS = "aspirasi", "pengaduan", "informasi", "hoaks"
KINDS = (ASPIRASI, PENGADUAN, INFORMASI, HOAKS)
KIND_LABELS = {
    ASPIRASI: _l("aspiration / proposal"),
    PENGADUAN: _l("complaint"),
    INFORMASI: _l("information request"),
    HOAKS: _l("hoax report / issue to confirm"),
}
# The seed taxonomy of issue 18 (slugs are stable; labels are translated).
TOPICS = ("adminduk", "bansos", "infrastruktur", "kesehatan", "pendidikan", "kamtibmas", "lingkungan",
          "ekonomi-umkm", "layanan-publik")
TOPIC_LABELS = {
    "adminduk": _l("population administration"),
    "bansos": _l("social assistance"),
    "infrastruktur": _l("infrastructure"),
    "kesehatan": _l("health"),
    "pendidikan": _l("education"),
    "kamtibmas": _l("security and public order"),
    "lingkungan": _l("environment"),
    "ekonomi-umkm": _l("economy and small businesses"),
    "layanan-publik": _l("other public services"),
}
# Where a hoax circulated.
HOAX_CHANNELS = ("grup-whatsapp", "facebook", "instagram", "tiktok", "youtube", "x", "telegram", "dari-mulut-ke-mulut",
                 "lainnya")
HOAX_CHANNEL_LABELS = {
    "grup-whatsapp": _l("WhatsApp group"), "facebook": "Facebook", "instagram": "Instagram", "tiktok": "TikTok",
    "youtube": "YouTube", "x": "X", "telegram": "Telegram", "dari-mulut-ke-mulut": _l("word of mouth"),
    "lainnya": _l("other"),
}
VERDICTS = ("hoaks", "bukan_hoaks", "belum_dapat_dipastikan")
VERDICT_LABELS = {"hoaks": _l("hoax"), "bukan_hoaks": _l("not a hoax"),
                  "belum_dapat_dipastikan": _l("cannot be determined yet")}

# --- states -------------------------------------------------------------------------------------
BARU, DIVERIFIKASI, DITERUSKAN, DIJAWAB, SELESAI, DUPLIKAT, DITOLAK = (
    "baru", "diverifikasi", "diteruskan", "dijawab", "selesai", "duplikat", "ditolak")
STATES = (BARU, DIVERIFIKASI, DITERUSKAN, DIJAWAB, SELESAI, DUPLIKAT, DITOLAK)
STATE_LABELS = {
    BARU: _l("new"), DIVERIFIKASI: _l("verified"), DITERUSKAN: _l("forwarded"), DIJAWAB: _l("answered"),
    SELESAI: _l("closed (passed on to residents)"), DUPLIKAT: _l("duplicate"), DITOLAK: _l("rejected"),
}
# Waiting for the handler: these carry a deadline (due_at) and may go overdue and escalate.
HANDLER_STATES = (BARU, DIVERIFIKASI, DITERUSKAN)
CLOSED_STATES = (SELESAI, DUPLIKAT, DITOLAK)

HANDLER, KIM = "handler", "kim"  # who performs an action


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str | None  # None: the state stays (an extension)
    by: str  # HANDLER or KIM
    required: tuple[str, ...]
    label: object


# The one definition of the state machine. Required fields are checked by services.transition;
# the `hoaks` answer needs a verdict, a fact-check link and a clarification in place of the text.
TRANSITIONS = {t.action: t for t in (
    Transition("diverifikasi", (BARU,), DIVERIFIKASI, HANDLER, (), _l("Accept (verified)")),
    Transition("bukan_wewenang", (BARU, DIVERIFIKASI), BARU, HANDLER, ("reason", "target"),
               _l("Not our authority: transfer")),
    Transition("duplikat", (BARU,), DUPLIKAT, HANDLER, ("original_id",), _l("Duplicate of another item")),
    Transition("ditolak", (BARU,), DITOLAK, HANDLER, ("reason",), _l("Reject")),
    Transition("diteruskan", (DIVERIFIKASI,), DITERUSKAN, HANDLER, ("agency", "reference"),
               _l("Forward to an agency")),
    Transition("dijawab", (DIVERIFIKASI, DITERUSKAN), DIJAWAB, HANDLER, ("answer",), _l("Answer")),
    Transition("perpanjang", HANDLER_STATES, None, HANDLER, ("reason",), _l("Extend the deadline (once)")),
    Transition("disampaikan", (DIJAWAB,), SELESAI, KIM, ("how", "delivered_on"),
               _l("Passed on to residents")),
)}
ACTIONS = tuple(TRANSITIONS)
# The "up a level" target of a transfer.
UP = "naik"


class Aspiration(db.Model):
    __tablename__ = "aspiration"
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS}", name="kind"),
        CheckConstraint(f"state IN {STATES}", name="state"),
        CheckConstraint("residents_count >= 1", name="residents_count"),
        CheckConstraint("escalation_level BETWEEN 0 AND 2", name="escalation_level"),
        Index("ix_aspiration_kim_id", "kim_id", "id"),
        Index("ix_aspiration_handler_scope", "handler_scope", postgresql_ops={"handler_scope": "text_pattern_ops"}),
        Index("ix_aspiration_desa_code", "desa_code", postgresql_ops={"desa_code": "text_pattern_ops"}),
        Index("ix_aspiration_state_due_at", "state", "due_at"),
        Index("ix_aspiration_closed_at", "closed_at"),
        Index("ix_aspiration_created_at", "created_at"),  # the oversight figures' window
        Index("ix_aspiration_author_id", "author_id"),
        Index("ix_aspiration_original_id", "original_id"),
        Index("ix_aspiration_published_by_id", "published_by_id"),
        # The public list: newest published first, keyset pages.
        Index("ix_aspiration_published", "published_at", "id", postgresql_where=text("published_at IS NOT NULL")),
        # A replayed offline item (same author, same Idempotency-Key) is one row, whatever the race.
        UniqueConstraint("author_id", "idempotency_key", name="uq_aspiration_author_idempotency_key"),
        CheckConstraint("photos_expected BETWEEN 0 AND 4", name="photos_expected"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kim_id: Mapped[int] = mapped_column(ForeignKey("kim.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(12))
    topic: Mapped[str] = mapped_column(String(40))
    desa_code: Mapped[str] = mapped_column(CODE_TYPE, ForeignKey("region.code"))
    description: Mapped[str] = mapped_column(Text)
    residents_count: Mapped[int] = mapped_column(Integer, default=1)
    links: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # Private (UU PDP 27/2022): the reporting KIM's members and the handling pembina only;
    # deleted KIM_ASPIRATION_PERSONAL_DAYS after closing (flask aspirations purge-personal).
    resident_name: Mapped[str | None] = mapped_column(String(120))
    resident_contact: Mapped[str | None] = mapped_column(String(120))
    personal_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A hoax report: the claim as heard, where it circulated, a link.
    hoax_claim: Mapped[str | None] = mapped_column(Text)
    hoax_channel: Mapped[str | None] = mapped_column(String(24))
    hoax_link: Mapped[str | None] = mapped_column(String(500))

    state: Mapped[str] = mapped_column(String(14), default=BARU, server_default=BARU)
    # The region whose pembina handle it (a kabupaten/kota or a province); None: the directorate.
    handler_scope: Mapped[str | None] = mapped_column(CODE_TYPE)
    # The deadline of the current step (triage, answer), end of a working day in WIB, stored UTC.
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When it escalates to the directorate (ESCALATION_DAYS working days after due_at).
    second_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    extended: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    agency: Mapped[str | None] = mapped_column(String(200))
    agency_reference: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(Text)
    answer_links: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    verdict: Mapped[str | None] = mapped_column(String(24))
    factcheck_link: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str | None] = mapped_column(Text)  # of a rejection (the last one given)
    original_id: Mapped[int | None] = mapped_column(ForeignKey("aspiration.id", ondelete="SET NULL"))
    delivered_how: Mapped[str | None] = mapped_column(String(500))
    delivered_on: Mapped[date | None] = mapped_column(Date)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Whether the first answer came before the deadline then running (the public share in time).
    answered_in_time: Mapped[bool | None] = mapped_column(Boolean)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The public version its handler chose to publish (services.publish_aspiration): texts the
    # handler wrote or approved, never the resident's description. Public while published_at is set.
    public_title: Mapped[str | None] = mapped_column(String(120))
    public_text: Mapped[str | None] = mapped_column(Text)
    public_claim: Mapped[str | None] = mapped_column(Text)  # a hoax: the claim, as the handler approved it
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    # Sent from the offline outbox (core/idempotency.py): the client's key, the hash of the parsed
    # body, the device time, and the evidence photos announced to follow one by one.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    written_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    photos_expected: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # The klarifikasi hoaks report published from this (answered hoax) item: at most one.
    clarification_activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activity.id", ondelete="SET NULL"), unique=True)

    kim = relationship("Kim")
    author = relationship("User", foreign_keys=[author_id])
    clarification = relationship("Activity", foreign_keys=[clarification_activity_id])
    photos: Mapped[list["AspirationPhoto"]] = relationship(
        back_populates="aspiration", cascade="all, delete-orphan", order_by="AspirationPhoto.position",
        lazy="selectin")
    events: Mapped[list["AspirationEvent"]] = relationship(
        back_populates="aspiration", cascade="all, delete-orphan", order_by="AspirationEvent.id")
    original = relationship("Aspiration", remote_side=[id])

    @property
    def photos_received(self) -> int:
        """Announced evidence photos stored so far (positions 1..photos_expected sent one by one)."""
        return sum(1 for p in self.photos if p.client_key is not None and p.position < (self.photos_expected or 0))

    @property
    def photos_complete(self) -> bool:
        return self.photos_received >= (self.photos_expected or 0)

    def is_overdue(self, now: datetime) -> bool:
        return self.state in HANDLER_STATES and self.due_at is not None and self.due_at < now


class AspirationPhoto(db.Model):
    """Evidence (a photo or screenshot), re-encoded like a report photo, private like the item."""
    __tablename__ = "aspiration_photo"
    __table_args__ = (
        Index("ix_aspiration_photo_aspiration_id", "aspiration_id"),
        # A photo sent one by one holds its position: a re-sent one is never stored twice.
        Index("uq_aspiration_photo_client_position", "aspiration_id", "position", unique=True,
              postgresql_where="client_key IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    aspiration_id: Mapped[int] = mapped_column(ForeignKey("aspiration.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80), unique=True, info=STORED_FILE)
    thumb_key: Mapped[str] = mapped_column(String(80), unique=True, info=STORED_FILE)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    # The client's Idempotency-Key of a photo sent one by one (PUT .../photos/<n>).
    client_key: Mapped[str | None] = mapped_column(String(64))

    aspiration: Mapped[Aspiration] = relationship(back_populates="photos")


class AspirationEvent(db.Model):
    """One step of an item's history, shown to the KIM: who, from which state to which, why."""
    __tablename__ = "aspiration_event"
    __table_args__ = (Index("ix_aspiration_event_aspiration_id", "aspiration_id", "id"),
                      Index("ix_aspiration_event_actor_id", "actor_id"))

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    aspiration_id: Mapped[int] = mapped_column(ForeignKey("aspiration.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(14))
    to_state: Mapped[str] = mapped_column(String(14))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    aspiration: Mapped[Aspiration] = relationship(back_populates="events")
    actor = relationship("User")


# Publishable: an item with an answer (answered, or answered and passed on to residents).
PUBLISHABLE_STATES = (DIJAWAB, SELESAI)


class AspirationEscalationNotice(db.Model):
    """An item escalated, to be told to one pembina of the new level (or one directorate user) in
    their daily escalation digest; sent_on is the digest's day, None while pending."""
    __tablename__ = "aspiration_escalation_notice"
    __table_args__ = (
        UniqueConstraint("aspiration_id", "user_id", "level", "escalated_at", name="uq_aspiration_escalation_notice_once"),
        Index("ix_aspiration_escalation_notice_user_id", "user_id", "sent_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    aspiration_id: Mapped[int] = mapped_column(ForeignKey("aspiration.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(SmallInteger)
    escalated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_on: Mapped[date | None] = mapped_column(Date)


class AspirationEscalationDigest(db.Model):
    """One escalation digest mail per person per day (the claim that makes a rerun send nothing)."""
    __tablename__ = "aspiration_escalation_digest"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    items: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
