"""Dissemination campaigns (paket diseminasi): official information sent to the KIMs of a region,
its materials and targets, the reports that log its dissemination, and the notices of publishing.

A campaign's reach is read from the reports linked to it (`Dissemination`): which KIMs, which desa,
how many people offline. The link row holds the campaign and the channel only; the place, date,
people reached and status stay on the report (activities), so a report edited or hidden by its
pembina counts as it now is. The later reach dashboard keeps running totals keyed the same way.
"""
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kim_platform.core import clock
from kim_platform.core.storage import STORED_FILE
from kim_platform.extensions import db
from kim_platform.regions.models import CODE_TYPE

class CampaignStatus:
    """A campaign's status codes: draft -> published -> closed (closed by hand, or once its end date
    has passed: every read treats it so, `flask campaigns close-ended` stores it)."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"

    ALL = (DRAFT, PUBLISHED, CLOSED)
    PUBLIC = (PUBLISHED, CLOSED)  # what anyone may see


DRAFT, PUBLISHED, CLOSED = CampaignStatus.DRAFT, CampaignStatus.PUBLISHED, CampaignStatus.CLOSED
STATUSES = CampaignStatus.ALL
STATUS_LABELS = {DRAFT: _l("draft"), PUBLISHED: _l("published"), CLOSED: _l("closed")}
# Channels through which a KIM passes a campaign on (issue 17).
CHANNELS = ("pertemuan-warga", "tempat-ibadah", "radio-komunitas", "grup-whatsapp", "media-sosial",
            "papan-informasi", "rumah-ke-rumah", "lainnya")
CHANNEL_LABELS = {
    "pertemuan-warga": _l("residents' meeting"),
    "tempat-ibadah": _l("place of worship"),
    "radio-komunitas": _l("community radio"),
    "grup-whatsapp": _l("WhatsApp group"),
    "media-sosial": _l("social media"),
    "papan-informasi": _l("notice board"),
    "rumah-ke-rumah": _l("door to door"),
    "lainnya": _l("other"),
}
# The activity type of a dissemination report (seed_data/activity_types.csv).
DISSEMINATION_TYPE = "diseminasi"
IMAGE, PDF = "image", "pdf"
MATERIAL_KINDS = (IMAGE, PDF)


class Campaign(db.Model):
    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("end_on >= start_on", name="period"),
        Index("ix_campaign_status_end_on", "status", "end_on"),
        Index("ix_campaign_created_by_id", "created_by_id"),
        Index("ix_campaign_owner_scope", "owner_scope"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(String(150))
    # Short, ready to read out or paste into WhatsApp.
    key_message: Mapped[str] = mapped_column(String(1000))
    description_md: Mapped[str] = mapped_column(Text, default="", server_default="")
    description_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    links: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    hashtags: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    # Empty: every bidang.
    target_bidang: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=DRAFT, server_default=DRAFT)
    # The region of whoever created it (None: the directorate, national): the pembina of this
    # region and above manage it (permissions.can_manage_campaign).
    owner_scope: Mapped[str | None] = mapped_column(CODE_TYPE)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    targets: Mapped[list["CampaignTarget"]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignTarget.region_code",
        lazy="selectin")
    materials: Mapped[list["CampaignMaterial"]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignMaterial.position",
        lazy="selectin")
    created_by = relationship("User")

    @property
    def target_codes(self) -> list[str]:
        return [t.region_code for t in self.targets]

    def effective_status(self, today: date | None = None) -> str:
        """Closed once its end date has passed, whether or not the daily job has stored it yet."""
        today = today or clock.today()
        if self.status == PUBLISHED and self.end_on < today:
            return CLOSED
        return self.status

    @property
    def current_status(self) -> str:
        return self.effective_status()

    @property
    def is_open(self) -> bool:
        """Published, started and not past its end: disseminations may be logged."""
        return self.current_status == PUBLISHED and self.start_on <= clock.today()


class CampaignTarget(db.Model):
    """One target region of a campaign (a code prefix: a province, kabupaten, kecamatan or desa)."""
    __tablename__ = "campaign_target"
    __table_args__ = (Index("ix_campaign_target_region_code", "region_code"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    region_code: Mapped[str] = mapped_column(CODE_TYPE, ForeignKey("region.code"), primary_key=True)

    campaign: Mapped[Campaign] = relationship(back_populates="targets")


class CampaignMaterial(db.Model):
    """An image (re-encoded like report photos) or a PDF (checked by its bytes) of a campaign."""
    __tablename__ = "campaign_material"
    __table_args__ = (
        CheckConstraint(f"kind IN {MATERIAL_KINDS}", name="kind"),
        Index("ix_campaign_material_campaign_id", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(150))
    key: Mapped[str] = mapped_column(String(80), unique=True, info=STORED_FILE)
    thumb_key: Mapped[str | None] = mapped_column(String(80), unique=True, info=STORED_FILE)
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    campaign: Mapped[Campaign] = relationship(back_populates="materials")


class Dissemination(db.Model):
    """A report of type diseminasi linked to the campaign it passes on, with its channel."""
    __tablename__ = "campaign_dissemination"
    __table_args__ = (
        CheckConstraint(f"channel IN {CHANNELS}", name="channel"),
        Index("ix_campaign_dissemination_campaign_id", "campaign_id", "activity_id"),
    )

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    activity = relationship("Activity")
    campaign = relationship(Campaign)


class CampaignNotice(db.Model):
    """A published campaign waiting to be told to one admin of a targeted KIM (in a daily digest)."""
    __tablename__ = "campaign_notice"
    __table_args__ = (
        UniqueConstraint("campaign_id", "user_id", name="uq_campaign_notice_campaign_user"),
        Index("ix_campaign_notice_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The day (in Indonesia) of the digest that told it; None while pending.
    sent_on: Mapped[date | None] = mapped_column(Date)


class CampaignDigest(db.Model):
    """One digest mail per person per day, whoever sends it (the request, or the daily job)."""
    __tablename__ = "campaign_digest"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    notices: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# --- share links (issue 17, second half): /p/<code> per campaign and KIM, counted visits --------

# 31 characters without look-alikes (no 0/o, 1/l/i), lower case so a code copied by hand from a
# poster still works; 8 of them give 31^8 ≈ 8.5e11 codes.
SHARE_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
SHARE_CODE_LENGTH = 8


class CampaignShareLink(db.Model):
    """The short link one KIM shares for one campaign: the same KIM always gets the same code.

    `visits` counts every counted request (bots and HEAD are not counted); `visitors` counts at
    most one per visitor per day, told apart by a salted hash that is kept for the day only
    (CampaignShareVisit). Nothing about a resident is stored beyond that day's hash."""
    __tablename__ = "campaign_share_link"
    __table_args__ = (
        UniqueConstraint("campaign_id", "kim_id", name="uq_campaign_share_link_campaign_kim"),
        Index("ix_campaign_share_link_kim_id", "kim_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    kim_id: Mapped[int] = mapped_column(ForeignKey("kim.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(SHARE_CODE_LENGTH), unique=True)
    visits: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    visitors: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    campaign = relationship(Campaign)
    kim = relationship("Kim")


class CampaignShareVisit(db.Model):
    """Today's de-duplication of a link's visitors: a keyed hash of (day salt, link, address, browser),
    deleted once the day is over (at the link's next visit and by `flask campaigns sweep-visits`)."""
    __tablename__ = "campaign_share_visit"
    __table_args__ = (Index("ix_campaign_share_visit_day", "day"),)

    link_id: Mapped[int] = mapped_column(ForeignKey("campaign_share_link.id", ondelete="CASCADE"),
                                         primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    visitor: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
