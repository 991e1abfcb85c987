"""/api/v1/auth, /api/v1/me and /api/v1/users: accounts for mobile clients and scripts."""
import logging

import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort

from kim_platform import permissions
from kim_platform.accounts import mails, queries, services
from kim_platform.accounts.slots import API_ME
from kim_platform.accounts.models import ROLES
from kim_platform.accounts.passwords import MAX_LENGTH
from kim_platform.api.schemas import PaginationArgs, error_responses, page_body, page_schema
from kim_platform.core import replica, throttle
from kim_platform.core.text import PlainText

auth_blp = Blueprint("auth_api", __name__, description="Registration, API tokens and the current user")
users_blp = Blueprint("users_api", __name__, description="Finding users and granting roles")
security_log = logging.getLogger("kim_platform.security")

BEARER = [{"bearerAuth": []}, {"cookieAuth": []}]


class RegisterSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(max=MAX_LENGTH * 4))
    whatsapp = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=30))


class RegisteredSchema(ma.Schema):
    name = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    whatsapp = ma.fields.String(allow_none=True)
    status = ma.fields.String(
        required=True,
        metadata={"description": "always `verification_sent`: confirm the address from the mail, then log in"},
    )


class TokenRequestSchema(ma.Schema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(max=254))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(max=MAX_LENGTH * 4))
    label = ma.fields.String(load_default=None, allow_none=True, validate=[ma.validate.Length(max=80), PlainText()])


class NewTokenSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    label = ma.fields.String(required=True)
    token = ma.fields.String(required=True, metadata={"description": "shown once; send as `Authorization: Bearer`"})
    expires_at = ma.fields.DateTime(required=True, metadata={
        "description": "after this the token is refused with 401; create a new one (lifetime `KIM_API_TOKEN_DAYS`)"})


class TokenSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    label = ma.fields.String(required=True)
    prefix = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)
    last_used_at = ma.fields.DateTime(allow_none=True, metadata={"description": "to the minute; null if never used"})
    expires_at = ma.fields.DateTime(required=True)


class GrantSchema(ma.Schema):
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLES))
    scope = ma.fields.String(allow_none=True, metadata={"description": "region code; null for direktorat"})
    scope_name = ma.fields.String(allow_none=True)
    granted_at = ma.fields.DateTime()


class MembershipSchema(ma.Schema):
    kim_id = ma.fields.Integer(required=True)
    kim_name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)


class MeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    whatsapp = ma.fields.String(allow_none=True)
    roles = ma.fields.List(ma.fields.Nested(GrantSchema), required=True)
    scope = ma.fields.String(allow_none=True, metadata={"description": "pembina scope code, if any"})
    memberships = ma.fields.List(ma.fields.Nested(MembershipSchema), required=True)


class UserSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    email = ma.fields.String(required=True, metadata={"description": "full for the directorate, else masked"})
    is_active = ma.fields.Boolean(required=True)
    roles = ma.fields.List(ma.fields.Nested(GrantSchema), required=True)


class UserSearchArgs(PaginationArgs):
    q = ma.fields.String(validate=ma.validate.Length(max=100))


class GrantRequestSchema(ma.Schema):
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLES))
    scope = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=13))


UserPageSchema = page_schema(UserSchema, "UserPage")


def _grants(user) -> list[dict]:
    from kim_platform.regions.queries import regions_by_code

    names = regions_by_code([g.scope_code for g in user.grants if g.scope_code])
    return [
        {"role": g.role, "scope": g.scope_code, "granted_at": g.granted_at,
         "scope_name": names[g.scope_code].title if g.scope_code in names else None}
        for g in user.grants
    ]


@auth_blp.route("/auth/register")
class Register(MethodView):
    decorators = throttle.REGISTER

    @auth_blp.arguments(RegisterSchema)
    @auth_blp.response(201, RegisteredSchema)
    @error_responses(auth_blp, 429)
    def post(self, data):
        """Register an account.

        The answer is the same whether or not the email already has an account; a mail with an
        activation link (or, for an existing account, a note to its owner) follows."""
        result = services.register(data["name"], data["email"], data["password"], data.get("whatsapp"))
        mails.send_registration_mail(result)
        return {"name": data["name"].strip(), "email": result.email,
                "whatsapp": services.normalise_whatsapp(data.get("whatsapp")), "status": "verification_sent"}


@auth_blp.route("/auth/token")
class Token(MethodView):
    decorators = throttle.LOGIN

    @auth_blp.arguments(TokenRequestSchema)
    @auth_blp.response(201, NewTokenSchema)
    @error_responses(auth_blp, 401, 403, 429)
    def post(self, data):
        """Exchange email and password for a personal API token."""
        user = services.authenticate(data["email"], data["password"])
        if user is None:
            security_log.warning("token login failed for %r from %s", data["email"][:254], request.remote_addr)
            abort(401, message=_("Wrong email or password."))
        refusal = services.login_refusal(user)
        if refusal:
            abort(403, message=str(refusal))
        token, secret = services.create_api_token(user, data.get("label") or "api")
        replica.api_client_of(user)  # its first reads with the token see the token
        security_log.info("token created for user %s from %s", user.id, request.remote_addr)
        return {"id": token.id, "label": token.label, "token": secret, "expires_at": token.expires_at}


@auth_blp.route("/auth/tokens")
class Tokens(MethodView):
    decorators = [login_required]

    @auth_blp.doc(security=BEARER)
    @auth_blp.response(200, TokenSchema(many=True))
    @error_responses(auth_blp, 401)
    def get(self):
        """My live API tokens (never their values): neither revoked nor expired.

        Changing or resetting the password revokes all of them."""
        return queries.live_api_tokens(current_user)


@auth_blp.route("/auth/tokens/<int:token_id>")
class TokenItem(MethodView):
    decorators = [login_required]

    @auth_blp.doc(security=BEARER)
    @auth_blp.response(204)
    @error_responses(auth_blp, 401, 404)
    def delete(self, token_id):
        """Revoke one of my tokens."""
        if not services.revoke_api_token(current_user, token_id):
            abort(404, message=_("No such token."))


@auth_blp.route("/me")
class Me(MethodView):
    decorators = [login_required]

    @auth_blp.doc(security=BEARER)
    @auth_blp.response(200, MeSchema)
    @error_responses(auth_blp, 401)
    def get(self):
        """The current user with roles, pembina scope and KIM memberships."""
        user = current_user
        answer = {"id": user.id, "name": user.name, "email": user.email, "whatsapp": user.whatsapp,
                  "roles": _grants(user), "scope": user.pembina_scope}
        for fields in API_ME.collect(user=user):
            answer.update(fields)
        return answer


def _require_role_manager():
    if not permissions.can(current_user, "users.manage"):
        abort(403, message=_("You may not manage users."))


def _serialise_user(user) -> dict:
    return {"id": user.id, "name": user.name, "email": permissions.shown_email(current_user, user.email),
            "is_active": user.is_active, "roles": _grants(user)}


@users_blp.route("")
class Users(MethodView):
    decorators = [login_required]

    @users_blp.doc(security=BEARER)
    @users_blp.arguments(UserSearchArgs, location="query", as_kwargs=True, error_status_code=400)
    @users_blp.response(200, UserPageSchema)
    @error_responses(users_blp, 401, 403)
    def get(self, page, per_page, q=None):
        """Find users to appoint.

        Direktorat: everyone, by name or email, with emails. Pembina provinsi: by name the people
        connected to their province (members of its KIMs, pembina inside it), anyone else by their
        exact email address; emails masked (`b***@example.id`)."""
        _require_role_manager()
        result = queries.search_users(q, page, per_page, viewer=current_user)
        return page_body(result, [_serialise_user(u) for u in result.items])


@users_blp.route("/<int:user_id>/roles")
class UserRoles(MethodView):
    decorators = [login_required]

    @users_blp.doc(security=BEARER)
    @users_blp.arguments(GrantRequestSchema)
    @users_blp.response(201, UserSchema)
    @error_responses(users_blp, 401, 403, 404)
    def post(self, data, user_id):
        """Grant a role: `{"role": "pembina", "scope": "76.02"}` or `{"role": "direktorat"}`."""
        _require_role_manager()
        user = queries.get_user(user_id) or abort(404, message=_("No such user."))
        services.grant_role(current_user, user, data["role"], data.get("scope"))
        return _serialise_user(user)


@users_blp.route("/<int:user_id>/roles/<role>")
class UserRole(MethodView):
    decorators = [login_required]

    @users_blp.doc(security=BEARER)
    @users_blp.response(204)
    @error_responses(users_blp, 401, 403, 404)
    def delete(self, user_id, role):
        """Revoke a role."""
        _require_role_manager()
        user = queries.get_user(user_id) or abort(404, message=_("No such user."))
        services.revoke_role(current_user, user, role)
