"""Users, login sessions, API tokens and role grants."""
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kim_platform.extensions import db
from kim_platform.regions.models import CODE_TYPE

ROLES = ("pembina", "direktorat")


class User(db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Stored lower-cased; unique.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    whatsapp: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Synthetic demo data (flask demo generate), removable with flask demo clear.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    grants: Mapped[list["RoleGrant"]] = relationship(
        back_populates="user", foreign_keys="RoleGrant.user_id", lazy="selectin",
        cascade="all, delete-orphan",
    )

    # Flask-Login: the login session this request is authenticated by (set by the loaders).
    session_token = None
    via_api_token = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        return self.session_token

    def grant(self, role: str) -> "RoleGrant | None":
        return next((g for g in self.grants if g.role == role), None)

    @property
    def is_direktorat(self) -> bool:
        return self.grant("direktorat") is not None

    @property
    def pembina_scope(self) -> str | None:
        grant = self.grant("pembina")
        return grant.scope_code if grant else None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class LoginSession(db.Model):
    """One browser login. The cookie holds a random token; only its SHA-256 is stored.

    Deleting the row ends that login (logout); deleting all of a user's rows ends every
    login (password change, deactivation)."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship()


class ApiToken(db.Model):
    """Personal token for `Authorization: Bearer`; only its SHA-256 is stored.

    A token ends when it expires, when its owner revokes it, and (all of the owner's tokens at
    once) when the password is changed or reset or the account is deactivated."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # First characters of the token, so its owner can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # After this moment the token is refused like an unknown one (API_TOKEN_LIFETIME, default 90 days).
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class RoleGrant(db.Model):
    """pembina (scope: one provinsi or kabupaten/kota code) or direktorat (national)."""

    __tablename__ = "role_grant"
    __table_args__ = (
        UniqueConstraint("user_id", "role", name="uq_role_grant_user_role"),
        CheckConstraint(f"role IN {ROLES}", name="role"),
        CheckConstraint(
            "(role = 'direktorat' AND scope_code IS NULL) OR "
            "(role = 'pembina' AND scope_code IS NOT NULL AND scope_code ~ '^[0-9]{2}(\\.[0-9]{2})?$')",
            name="scope",
        ),
        Index("ix_role_grant_scope_code", "scope_code"),
        Index("ix_role_grant_granted_by_id", "granted_by_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    scope_code: Mapped[str | None] = mapped_column(CODE_TYPE, ForeignKey("region.code"))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    granted_by: Mapped[User | None] = relationship(foreign_keys=[granted_by_id])
