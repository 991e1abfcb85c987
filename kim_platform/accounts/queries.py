"""Reads over accounts."""
from sqlalchemy import or_, select

from kim_platform import permissions
from kim_platform.accounts.models import ApiToken, RoleGrant, User
from kim_platform.accounts.slots import USER_DIRECTORY_CONNECTED
from kim_platform.core.clock import utcnow
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
    now = utcnow()
    return list(db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .order_by(ApiToken.id)
    ))


def search_users(q: str | None, page: int = 1, per_page: int = 50, viewer=None) -> Page:
    """The user directory of a role manager (permissions.user_directory_scope).

    The directorate finds anyone by name or email fragment. A pembina provinsi finds, by name,
    the people connected to their province: members of a KIM registered in it and pembina whose
    scope lies in it; anyone else only by typing their full email address (to appoint a new
    Diskominfo colleague), and never by an email fragment."""
    from kim_platform.accounts.services import normalise_email  # services import this module

    scope = permissions.user_directory_scope(viewer)
    stmt = select(User)
    term = (q or "").strip()
    full_emails = permissions.sees_full_emails(viewer)
    exact_email = User.email == normalise_email(term) if "@" in term else None
    if term:
        like = f"%{escape_like(term)}%"
        conditions = [User.name.ilike(like)]
        if full_emails:
            conditions.append(User.email.ilike(like))
        elif exact_email is not None:
            conditions.append(exact_email)
        stmt = stmt.where(or_(*conditions))
    if not full_emails:
        if not scope:
            return Page(items=[], page=max(1, page), per_page=per_page, total=0)
        pembina_here = (
            select(RoleGrant.id)
            .where(RoleGrant.user_id == User.id, RoleGrant.role == "pembina",
                   or_(RoleGrant.scope_code == scope, RoleGrant.scope_code.like(descendant_pattern(scope))))
            .exists()
        )
        # Members of a KIM in the scope (kims fills the slot), and so on for the domains above.
        connected = [*USER_DIRECTORY_CONNECTED.collect(user_id=User.id, scope=scope), pembina_here]
        if exact_email is not None:
            connected.append(exact_email)
        stmt = stmt.where(or_(*connected))
    return paginate(stmt.order_by(User.name, User.id), page, per_page)
