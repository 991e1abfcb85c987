"""Running totals behind the campaign reach dashboard, written only by database triggers (see
migration b4f8e2a6c9d1): every path that links, unlinks, edits, hides or deletes a dissemination
report, or changes its KIM, goes through them, so the figures are exact in the same transaction.
`campaign_reach_rebuild()` recomputes them from the raw tables after bulk loads."""
from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, SmallInteger, text
from sqlalchemy.orm import Mapped, mapped_column

from kim_platform.extensions import db
from kim_platform.regions.models import CODE_TYPE


class CampaignReachItem(db.Model):
    """A dissemination as last counted (present while it counts)."""
    __tablename__ = "campaign_reach_item"
    __table_args__ = (Index("ix_campaign_reach_item_campaign_id", "campaign_id"),)

    activity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    kim_id: Mapped[int] = mapped_column(BigInteger)
    kim_desa_code: Mapped[str] = mapped_column(CODE_TYPE)
    desa_code: Mapped[str] = mapped_column(CODE_TYPE)
    day: Mapped[date] = mapped_column(Date)
    people: Mapped[int] = mapped_column(Integer)


class CampaignReachKim(db.Model):
    """Counted reports per campaign and KIM (keyed with the KIM's desa: a move is a new row)."""
    __tablename__ = "campaign_reach_kim"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    kim_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    desa_code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    reports: Mapped[int] = mapped_column(Integer)


class CampaignReachRegion(db.Model):
    """Per campaign and region prefix (depth 1 provinsi .. 4 desa): counted reports and people
    (by the report's desa), desa with one, and KIMs with one (by the KIM's desa)."""
    __tablename__ = "campaign_reach_region"
    __table_args__ = (Index("ix_campaign_reach_region_depth", "campaign_id", "depth", "code"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    depth: Mapped[int] = mapped_column(SmallInteger)
    reports: Mapped[int] = mapped_column(Integer)
    people: Mapped[int] = mapped_column(BigInteger)
    kims: Mapped[int] = mapped_column(Integer)
    desa: Mapped[int] = mapped_column(Integer)


class CampaignReachDay(db.Model):
    """Counted reports and people per campaign and activity date (the daily line)."""
    __tablename__ = "campaign_reach_day"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reports: Mapped[int] = mapped_column(Integer)
    people: Mapped[int] = mapped_column(BigInteger)


class CampaignTargetTotal(db.Model):
    """Per campaign and current region in its target (wholly, or holding a target; depth 1
    provinsi .. 4 desa): the verified KIMs it targets (region and bidang) and the desa in the
    target below it. Kept by triggers on campaign_target, campaign.target_bidang, kim and
    campaign_reach_region (migration b82740980ed0); `campaign_target_rebuild()` recomputes them."""
    __tablename__ = "campaign_target_total"
    __table_args__ = (Index("ix_campaign_target_total_depth", "campaign_id", "depth", "code"),
                      Index("ix_campaign_target_total_gaps", "campaign_id", "depth", "code",
                            postgresql_where=text("NOT reached")))

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    depth: Mapped[int] = mapped_column(SmallInteger)
    kims: Mapped[int] = mapped_column(Integer)
    desa: Mapped[int] = mapped_column(Integer)
    # A counted report was logged in it (campaign_reach_region.reports <> 0); the gaps are the rest.
    reached: Mapped[bool] = mapped_column(Boolean)
