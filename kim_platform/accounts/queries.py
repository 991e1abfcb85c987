"""Reads over accounts."""
from datetime import datetime, timezone

from sqlalchemy import or_, select

from kim_platform.accounts.models import ApiToken, RoleGrant, User
from kim_platform.core.pagination import Page, paginate
from kim_platform.core.sqlutil import escape_like
from kim_platform.extensions import db
from kim_platform.regions.codes import descendant_pattern


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def live_api_tokens(user: User) -> list[ApiToken]:
    """The user's tokens that still work: neither revoked nor expired."""
    now = datetime.now(timezone.utc)
    return list(db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .order_by(ApiToken.id)
    ))


def search_users(q: str | None, page: int = 1, per_page: int = 50, within_scope: str | None = None) -> Page:
    """Users by name or email fragment. `within_scope` limits to pembina of that region
    plus users without any role (whom a pembina provinsi may appoint)."""
    stmt = select(User)
    term = (q or "").strip()
    if term:
        like = f"%{escape_like(term)}%"
        stmt = stmt.where(or_(User.name.ilike(like), User.email.ilike(like)))
    if within_scope:
        has_any_grant = select(RoleGrant.id).where(RoleGrant.user_id == User.id).exists()
        grant_in_scope = (
            select(RoleGrant.id)
            .where(RoleGrant.user_id == User.id, RoleGrant.role == "pembina",
                   or_(RoleGrant.scope_code == within_scope,
                       RoleGrant.scope_code.like(descendant_pattern(within_scope))))
            .exists()
        )
        stmt = stmt.where(or_(~has_any_grant, grant_in_scope))
    return paginate(stmt.order_by(User.name, User.id), page, per_page)
