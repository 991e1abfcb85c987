"""Activity reports (kegiatan), their photos and the activity-type taxonomy."""
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from geoalchemy2 import Geometry
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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kim_platform.core.storage import STORED_FILE
from kim_platform.core.taxonomy import TaxonomyMixin
from kim_platform.extensions import db
from kim_platform.regions.models import CODE_TYPE


class ActivityStatus:
    """A report's status codes, as stored and as the API speaks them (people see STATUS_LABELS).

    Plain strings, so they compare with a loaded `activity.status` and bind in SQL as they are."""

    DRAFT = "draft"
    PUBLISHED = "published"
    HIDDEN = "hidden"  # by the pembina, with a reason; its KIM may edit it and ask for a review

    ALL = (DRAFT, PUBLISHED, HIDDEN)


STATUSES = ActivityStatus.ALL
STATUS_LABELS = {ActivityStatus.DRAFT: _l("draft"), ActivityStatus.PUBLISHED: _l("published"),
                 ActivityStatus.HIDDEN: _l("hidden by the pembina")}


def status_label(status: str):
    """What people read for a report status code (templates: `report_status_label`)."""
    return STATUS_LABELS.get(status, status)


class PendingAction:
    """What a report sent without its photos does once the last one is stored (issue #16); also
    the actions the report form and the API take (activities.forms)."""

    PUBLISH = "publish"
    REVIEW = "review"  # ask the pembina to look again at a hidden report
    DRAFT = "draft"  # keep it a draft

    ALL = (PUBLISH, REVIEW, DRAFT)


PENDING_ACTIONS = PendingAction.ALL


class ActivityType(TaxonomyMixin, db.Model):
    __tablename__ = "activity_type"

    adinda: Mapped[str | None] = mapped_column(String(20))


class Activity(db.Model):
    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("reach_offline >= 0 AND reach_online >= 0", name="reach"),
        # Feeds: published reports of a region (code prefix), newest first.
        Index("ix_activity_status_desa_date", "status", "desa_code", "activity_date"),
        Index("ix_activity_status_date", "status", "activity_date"),
        Index("ix_activity_kim_date", "kim_id", "activity_date"),
        Index("ix_activity_updated_at", "updated_at"),
        # Foreign keys to users are indexed so deleting a user never scans the whole table.
        Index("ix_activity_author_id", "author_id"),
        # The author's newest reports (the offline app's cache) and the daily cap.
        Index("ix_activity_author_created", "author_id", "created_at"),
        # A replayed offline report (same author, same Idempotency-Key) is one row, whatever the race.
        UniqueConstraint("author_id", "idempotency_key", name="uq_activity_author_idempotency_key"),
        CheckConstraint(f"pending_action IN {PENDING_ACTIONS}", name="pending_action"),
        # A report waiting for photos is never published: every count of published reports
        # (coverage triggers, teladan, feeds) only ever sees complete reports.
        CheckConstraint(f"status <> '{ActivityStatus.PUBLISHED}' OR pending_action IS NULL", name="published_complete"),
        CheckConstraint("photos_expected BETWEEN 0 AND 6", name="photos_expected"),
        # The public feed of a province / kabupaten: its code prefix, in feed order (a37f0c5e9d21).
        *(Index(name, text(f"left(desa_code, {width})"), "activity_date", "id", postgresql_include=["kim_id"],
                postgresql_where=text(f"status = '{ActivityStatus.PUBLISHED}' AND pending_action IS NULL"))
          for name, width in (("ix_activity_feed_provinsi", 2), ("ix_activity_feed_kabupaten", 5))),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kim_id: Mapped[int] = mapped_column(ForeignKey("kim.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(150))
    activity_date: Mapped[date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(ForeignKey("activity_type.slug"))
    description_md: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Rendered once on write from the Markdown and sanitised; never user HTML.
    description_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    desa_code: Mapped[str] = mapped_column(CODE_TYPE, ForeignKey("region.code"))
    point = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=True)
    reach_offline: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reach_online: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    links: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    late_reason: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default=ActivityStatus.PUBLISHED,
                                        server_default=ActivityStatus.PUBLISHED)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    review_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Sent from the offline app: the client's Idempotency-Key and the hash of the parsed body.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    # When the volunteer wrote it, by the device's clock (created_at is when the server received it).
    written_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Photos announced to follow one by one, and the action (publish/review/draft) waiting for
    # the last of them; None once complete (or when none were announced).
    photos_expected: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    pending_action: Mapped[str | None] = mapped_column(String(10))
    # Of those, received but still with the job worker (large, KIM_PHOTO_BACKGROUND_BYTES): kept
    # on the row so photos_received needs no query of the pending photos in any list.
    photos_with_worker: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    kim = relationship("Kim")
    author = relationship("User")
    photos: Mapped[list["Photo"]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", order_by="Photo.position", lazy="selectin",
    )
    # Large uploads the job worker is still re-encoding (with the job queue only); loaded when asked.
    processing_photos: Mapped[list["PendingPhoto"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="PendingPhoto.position", lazy="select",
    )

    @property
    def photos_complete(self) -> bool:
        """All announced photos stored (a report sent with its photos, or without any, is complete)."""
        return self.pending_action is None

    @property
    def photos_received(self) -> int:
        """Announced photos received so far (positions 1..photos_expected uploaded one by one):
        stored, or large and waiting for the job worker (the upload was acknowledged; the photo
        shows when the job is done). Same rule as the API's SQL (activities/api.py)."""
        stored = sum(1 for p in self.photos if p.client_key is not None and p.position < (self.photos_expected or 0))
        return stored + (self.photos_with_worker or 0)

    def photo_at(self, position: int):
        """The photo (stored, or pending when some are with the worker) sent one by one at `position`."""
        held = [*self.photos, *(self.processing_photos if self.photos_with_worker else ())]
        return next((p for p in held if p.client_key is not None and p.position == position), None)


class Photo(db.Model):
    __tablename__ = "activity_photo"
    __table_args__ = (
        Index("ix_activity_photo_activity_id", "activity_id"),
        # A photo uploaded one by one holds its position: a re-sent one is never stored twice.
        Index("uq_activity_photo_client_position", "activity_id", "position", unique=True,
              postgresql_where="client_key IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Storage keys of the re-encoded image (≤1600 px) and its thumbnail (≤400 px).
    key: Mapped[str] = mapped_column(String(80), unique=True, info=STORED_FILE)
    thumb_key: Mapped[str] = mapped_column(String(80), unique=True, info=STORED_FILE)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    # The client's Idempotency-Key of a photo uploaded one by one (PUT .../photos/<n>).
    client_key: Mapped[str | None] = mapped_column(String(64))

    activity: Mapped[Activity] = relationship(back_populates="photos")


class PendingPhoto(db.Model):
    """A large upload stored as received, waiting for the job worker to re-encode it
    (activities/services.py `reencode_pending_photo`): checked like every photo (type, size,
    pixels), never served. The job turns it into a Photo and deletes the original."""

    __tablename__ = "activity_pending_photo"
    __table_args__ = (
        Index("ix_activity_pending_photo_activity_id", "activity_id"),
        # Uploaded one by one, it holds its position like a stored photo (Photo's index).
        Index("uq_activity_pending_photo_client_position", "activity_id", "position", unique=True,
              postgresql_where="client_key IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    original_key: Mapped[str] = mapped_column(String(80), unique=True, info=STORED_FILE)
    # The client's Idempotency-Key when it came one by one (PUT .../photos/<n>): the Photo keeps it.
    client_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
