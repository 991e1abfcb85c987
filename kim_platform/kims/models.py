"""KIM groups, their bidang, members, invitations and registration numbers."""
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
from kim_platform.regions.codes import kabupaten_of
from kim_platform.regions.models import CODE_TYPE


class KimStatus:
    """A KIM's status codes, as stored and as the API speaks them (people see STATUS_LABELS).

    draft → submitted → verified (or rejected, then submitted again); verified ⇄ inactive.
    Plain strings, so they compare with a loaded `kim.status` and bind in SQL as they are."""

    DRAFT = "draft"
    SUBMITTED = "submitted"  # awaiting verification by the region's pembina
    VERIFIED = "verified"
    REJECTED = "rejected"  # returned for changes
    INACTIVE = "inactive"

    ALL = (DRAFT, SUBMITTED, VERIFIED, REJECTED, INACTIVE)
    # A public profile (permissions.kim_visible): inactive ones are marked "tidak aktif", drawn grey
    # on the map, and left out of lists unless asked for (kims.queries.DEFAULT_HIDDEN_STATUSES).
    PUBLIC = (VERIFIED, INACTIVE)
    # May be sent (again) for verification.
    SUBMITTABLE = (DRAFT, REJECTED, INACTIVE)
    # Never verified yet: the form's save button saves "as draft".
    UNVERIFIED = (DRAFT, REJECTED)


STATUSES = KimStatus.ALL
PUBLIC_STATUSES = KimStatus.PUBLIC
# Shown to people; the codes above are for the database and the API.
STATUS_LABELS = {
    KimStatus.DRAFT: _l("draft"),
    KimStatus.SUBMITTED: _l("awaiting verification"),
    KimStatus.VERIFIED: _l("verified"),
    KimStatus.REJECTED: _l("returned for changes"),
    KimStatus.INACTIVE: _l("inactive"),
}


def status_label(status: str):
    """What people read for a KIM status code (templates: `kim_status_label`)."""
    return STATUS_LABELS.get(status, status)


KETUA, ADMIN, ANGGOTA = "ketua", "admin", "anggota"  # chair, admin, member
MEMBER_ROLES = (KETUA, ADMIN, ANGGOTA)
MANAGER_ROLES = (KETUA, ADMIN)  # they edit the KIM and manage its members
# The pengurus positions a KIM names among its members (issue 19), apart from the site roles above:
# the ketua of the pengurus need not be the account with the `ketua` role.
SEKRETARIS, BENDAHARA = "sekretaris", "bendahara"
PENGURUS_POSITIONS = (KETUA, SEKRETARIS, BENDAHARA)


class Bidang(TaxonomyMixin, db.Model):
    __tablename__ = "bidang"

    parent_slug: Mapped[str | None] = mapped_column(ForeignKey("bidang.slug"))


class Kim(db.Model):
    __tablename__ = "kim"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("cardinality(bidang) >= 1", name="bidang"),
        Index("ix_kim_desa_code", "desa_code"),
        Index("ix_kim_status_desa_code", "status", "desa_code"),
        Index("ix_kim_bidang", "bidang", postgresql_using="gin"),
        Index("ix_kim_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
        Index("ix_kim_submitted_at", "submitted_at", postgresql_where=f"status = '{KimStatus.SUBMITTED}'"),
        Index("ix_kim_updated_at", "updated_at"),
        Index("ix_kim_is_demo", "id", postgresql_where="is_demo"),
        Index("ix_kim_verified_by_id", "verified_by_id"),
        # /berkas/logo/<key> serves only a key that is some KIM's logo: one index probe.
        Index("ix_kim_logo_key", "logo_key", postgresql_where="logo_key IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # Public registration number, given at first verification: KIM-<kabupaten>-<sequence>.
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(150))
    slug: Mapped[str] = mapped_column(String(180), unique=True)
    desa_code: Mapped[str] = mapped_column(CODE_TYPE, ForeignKey("region.code"))
    point = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    bidang: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    status: Mapped[str] = mapped_column(String(12), default=KimStatus.DRAFT, server_default=KimStatus.DRAFT)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    founded_on: Mapped[date | None] = mapped_column(Date)
    sk_number: Mapped[str | None] = mapped_column(String(120))
    sk_issuer: Mapped[str | None] = mapped_column(String(150))
    sk_date: Mapped[date | None] = mapped_column(Date)
    sk_file_key: Mapped[str | None] = mapped_column(String(80), info=STORED_FILE)
    # The SK's masa berlaku (None: no end date given); health flags it once past (issue 19).
    sk_valid_until: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    whatsapp: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    socials: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    logo_key: Mapped[str | None] = mapped_column(String(80), info=STORED_FILE)
    join_code: Mapped[str] = mapped_column(String(12), unique=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Date of the latest published report, kept by the activity services (maps, coverage, scores).
    last_activity_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When its admins last confirmed the profile ("data masih benar") or edited it (issue 19).
    data_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    memberships: Mapped[list["Membership"]] = relationship(back_populates="kim", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Kim {self.id} {self.name!r} {self.status}>"

    @property
    def kabupaten_code(self) -> str:
        return kabupaten_of(self.desa_code)

    @property
    def public_ref(self) -> str:
        """What public URLs use: the number once verified, else the slug."""
        return self.number or self.slug


class Membership(db.Model):
    __tablename__ = "kim_membership"
    __table_args__ = (
        UniqueConstraint("user_id", "kim_id", name="uq_kim_membership_user_kim"),
        CheckConstraint(f"role IN {MEMBER_ROLES}", name="role"),
        CheckConstraint(f"position IN {PENGURUS_POSITIONS}", name="position"),
        Index("ix_kim_membership_kim_id", "kim_id"),
        Index("ix_kim_membership_user_id", "user_id"),
        Index("uq_kim_membership_position", "kim_id", "position", unique=True,
              postgresql_where=text("position IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kim_id: Mapped[int] = mapped_column(ForeignKey("kim.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(10))
    position: Mapped[str | None] = mapped_column(String(12))  # pengurus: ketua, sekretaris, bendahara
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    kim: Mapped[Kim] = relationship(back_populates="memberships")
    # Member lists show names: load the user with the membership, not one query per member.
    user = relationship("User", lazy="joined")


class KimSkVersion(db.Model):
    """Every SK uploaded for a KIM, newest last: a new SK is a new version and the old ones (and
    their files, private like the current one) stay as the KIM's SK history."""

    __tablename__ = "kim_sk_version"
    __table_args__ = (
        Index("ix_kim_sk_version_kim_id", "kim_id"),
        Index("ix_kim_sk_version_uploaded_by_id", "uploaded_by_id"),
        Index("ix_kim_sk_version_file_key", "file_key", postgresql_where="file_key IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kim_id: Mapped[int] = mapped_column(ForeignKey("kim.id", ondelete="CASCADE"))
    sk_number: Mapped[str | None] = mapped_column(String(120))
    sk_issuer: Mapped[str | None] = mapped_column(String(150))
    sk_date: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    file_key: Mapped[str | None] = mapped_column(String(80), info=STORED_FILE)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InvitationStatus:
    """An invitation's status codes: pending until its invitee answers (or it expires)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"

    ALL = (PENDING, ACCEPTED, DECLINED)


INVITATION_STATUSES = InvitationStatus.ALL


class KimInvitation(db.Model):
    """An invitation by email. It makes nobody a member: the verified owner of the address
    accepts or declines it ("Akun saya", the mailed link or the API) before it expires."""

    __tablename__ = "kim_invitation"
    __table_args__ = (
        UniqueConstraint("kim_id", "email", name="uq_kim_invitation_kim_email"),
        CheckConstraint(f"role IN {MEMBER_ROLES}", name="role"),
        CheckConstraint(f"status IN {INVITATION_STATUSES}", name="status"),
        Index("ix_kim_invitation_email", "email"),
        Index("ix_kim_invitation_invited_by_id", "invited_by_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kim_id: Mapped[int] = mapped_column(ForeignKey("kim.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(10))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # When it was (last) sent: inviting the same address again refreshes the invitation.
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[str] = mapped_column(String(10), default=InvitationStatus.PENDING,
                                        server_default=InvitationStatus.PENDING)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=text("now() + interval '14 days'"))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    kim: Mapped[Kim] = relationship()
    invited_by = relationship("User", foreign_keys=[invited_by_id])


class KimNumberSequence(db.Model):
    """Last number handed out per kabupaten/kota; numbers are never reused."""

    __tablename__ = "kim_number_sequence"

    kabupaten_code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class RegionKimStats(db.Model):
    """Verified KIMs and covered desa per region code (desa and every ancestor).

    Written only by the database trigger `kim_stats` (see the migration), so every path that
    changes a KIM keeps it exact; `kim_stats_rebuild()` recomputes it after bulk loads."""

    __tablename__ = "region_kim_stats"

    code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    kim_verified: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    desa_covered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
