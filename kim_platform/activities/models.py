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
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kim_platform.core.storage import STORED_FILE
from kim_platform.core.taxonomy import TaxonomyMixin
from kim_platform.extensions import db
from kim_platform.regions.models import CODE_TYPE

STATUSES = ("draft", "published", "hidden")
STATUS_LABELS = {"draft": _l("draft"), "published": _l("published"), "hidden": _l("hidden by the pembina")}


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
    status: Mapped[str] = mapped_column(String(10), default="published", server_default="published")
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    review_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    kim = relationship("Kim")
    author = relationship("User")
    photos: Mapped[list["Photo"]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", order_by="Photo.position", lazy="selectin",
    )


class Photo(db.Model):
    __tablename__ = "activity_photo"
    __table_args__ = (Index("ix_activity_photo_activity_id", "activity_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Storage keys of the re-encoded image (≤1600 px) and its thumbnail (≤400 px).
    key: Mapped[str] = mapped_column(String(80), unique=True, info=STORED_FILE)
    thumb_key: Mapped[str] = mapped_column(String(80), unique=True, info=STORED_FILE)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)

    activity: Mapped[Activity] = relationship(back_populates="photos")
