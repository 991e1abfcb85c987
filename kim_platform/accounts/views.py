"""Account pages: register, log in/out, password reset, "Akun saya", and role management."""
import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from kim_platform import permissions
from kim_platform.accounts import mails, queries, services, slots  # noqa: F401 (slots: declared for Akun saya)
from kim_platform.accounts.forms import (
    ApiTokenForm,
    ChangePasswordForm,
    ForgotPasswordForm,
    GrantRoleForm,
    LoginForm,
    PostForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
)
from kim_platform.accounts.services import AccountError
from kim_platform.core import throttle, transaction
from kim_platform.core.auth import limiter
from kim_platform.core.throttle import throttled
from kim_platform.core.pagination import page_arg
from kim_platform.core.urls import safe_next_url
from kim_platform.regions.queries import regions_by_code

bp = Blueprint("accounts", __name__)
security_log = logging.getLogger("kim_platform.security")



def _attach_error(form, error: AccountError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = list(field.errors) + [str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def _remember_device(response, user) -> None:
    """Set the device cookie: later logins to this account from this browser skip the
    per-account and per-address lockouts (core/throttle.py)."""
    config = current_app.config
    name = config["DEVICE_COOKIE_NAME"]
    response.set_cookie(
        name, services.device_cookie(user, request.cookies.get(name)),
        max_age=int(config["DEVICE_COOKIE_LIFETIME"].total_seconds()), httponly=True, samesite="Lax",
        secure=config["SESSION_COOKIE_SECURE"],
    )


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/daftar", methods=["GET", "POST"])
@throttled(throttle.REGISTER)
def register():
    """Create an account; the answer is the same whether or not the email was taken."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            result = services.register(form.name.data, form.email.data, form.password.data, form.whatsapp.data)
        except AccountError as error:
            _attach_error(form, error)
        else:
            mails.send_registration_mail(result)
            return render_template("accounts/check_email.html", email=result.email, purpose="register")
    return render_template("accounts/register.html", form=form), 422 if form.errors else 200


@bp.get("/verifikasi/<token>")
@transaction.writes_on_get
def verify_email(token: str):
    """The link from the registration mail."""
    user = services.verify_email(token)
    if user is None:
        return render_template("accounts/message.html", title=_("Link not valid"),
                               message=_("This confirmation link is invalid or has expired. Register again "
                                         "or use “Forgot password” to receive a new link.")), 400
    flash(_("Your email address is confirmed. You can log in now."), "success")
    return redirect(url_for("accounts.login"))


@bp.route("/masuk", methods=["GET", "POST"])
@throttled(throttle.LOGIN)
def login():
    """Log in; a successful login makes this browser a known device for the account."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        refusal = services.login_refusal(user) if user else None
        if user is None or refusal:
            security_log.warning("login failed for %r from %s", form.email.data[:254], request.remote_addr)
            form.form_errors.append(str(refusal) if refusal else _("Wrong email or password."))
        else:
            session.clear()  # a fresh session (and CSRF secret) for the new login
            services.start_login_session(user, request.user_agent.string)
            login_user(user, remember=form.remember.data)
            security_log.info("login succeeded for user %s from %s", user.id, request.remote_addr)
            response = redirect(safe_next_url(request.args.get("next")) or url_for("accounts.profile"))
            _remember_device(response, user)
            return response
    status = 422 if form.errors else 200
    return _no_store(current_app.make_response((render_template("accounts/login.html", form=form), status)))


@bp.post("/keluar")
@login_required
def logout():
    """End this login: its session row is deleted, so a copied cookie stops working too."""
    services.end_login_session(current_user.session_token)
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("home.home"))


@bp.route("/lupa-sandi", methods=["GET", "POST"])
@throttled(throttle.PASSWORD_RESET_REQUEST)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        user = queries.user_by_email(services.normalise_email(form.email.data))
        if user is not None and user.is_active:
            mails.send_password_reset_mail(user)
        return render_template("accounts/check_email.html", email=form.email.data, purpose="reset")
    return render_template("accounts/forgot.html", form=form), 422 if form.errors else 200


@bp.route("/atur-ulang-sandi/<token>", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def reset_password(token: str):
    if services.user_for_reset_token(token) is None:
        return render_template("accounts/message.html", title=_("Link not valid"),
                               message=_("This reset link is invalid, expired or already used. "
                                         "Ask for a new one.")), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except AccountError as error:
            _attach_error(form, error)
        else:
            flash(_("Your password has been changed. Log in with the new password."), "success")
            return redirect(url_for("accounts.login"))
    return _no_store(current_app.make_response(
        (render_template("accounts/reset.html", form=form), 422 if form.errors else 200)
    ))


@bp.get("/akun")
@login_required
def profile():
    """Akun saya: my KIMs, invitations waiting for my answer, my scope, my API tokens."""
    grant = current_user.grant("pembina")
    scope_region = regions_by_code([grant.scope_code]).get(grant.scope_code) if grant else None
    return render_template(
        "accounts/profile.html",
        scope_region=scope_region,
        tokens=queries.live_api_tokens(current_user),
        token_days=current_app.config["API_TOKEN_LIFETIME"].days,
        token_form=ApiTokenForm(),
        post_form=PostForm(),
    )


@bp.route("/akun/ubah", methods=["GET", "POST"])
@login_required
def edit_profile():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            services.update_profile(current_user, form.name.data, form.whatsapp.data)
        except AccountError as error:
            _attach_error(form, error)
        else:
            flash(_("Your profile has been saved."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/edit.html", form=form), 422 if form.errors else 200


@bp.route("/akun/sandi", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per hour", methods=["POST"])
def change_password():
    """A new password ends every other login; this one continues with a new session."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(user, form.current_password.data, form.password.data)
        except AccountError as error:
            _attach_error(form, error)
        else:
            session.clear()
            login_user(user)
            flash(_("Your password has been changed. Other devices have been logged out and your API tokens "
                    "revoked."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/password.html", form=form), 422 if form.errors else 200


@bp.post("/akun/token")
@login_required
def create_token():
    """Show the new token once; only its hash is kept."""
    form = ApiTokenForm()
    if not form.validate():
        abort(400)
    token, secret = services.create_api_token(current_user, form.label.data)
    return _no_store(current_app.make_response(
        render_template("accounts/token_created.html", token=token, secret=secret)
    ))


@bp.post("/akun/token/<int:token_id>/cabut")
@login_required
def revoke_token(token_id: int):
    PostForm()  # the CSRF check ran in before_request
    if not services.revoke_api_token(current_user, token_id):
        abort(404)
    flash(_("The token has been revoked."), "info")
    return redirect(url_for("accounts.profile"))


# --- role management (direktorat and pembina provinsi) --------------------------------

def _require_role_manager():
    if not permissions.can(current_user, "users.manage"):
        abort(403)


def _managed_scope():
    """None for the directorate (everyone); the province code for a pembina provinsi."""
    return permissions.user_directory_scope(current_user)


@bp.get("/pengguna")
@login_required
def users():
    """Find users and grant or revoke roles within one's own scope."""
    _require_role_manager()
    q = (request.args.get("q") or "").strip()[:100]
    page = queries.search_users(q, page_arg(), 25, viewer=current_user)
    scopes = {g.scope_code for user in page.items for g in user.grants if g.scope_code}
    return render_template(
        "accounts/users.html", q=q, page=page, regions=regions_by_code(scopes),
        emails={user.id: permissions.shown_email(current_user, user.email) for user in page.items},
        grant_form=GrantRoleForm(), post_form=PostForm(), own_scope=_managed_scope(),
    )


def _back_to_users():
    return redirect(safe_next_url(request.form.get("next")) or url_for("accounts.users"))


@bp.post("/pengguna/<int:user_id>/peran")
@login_required
def grant_role(user_id: int):
    _require_role_manager()
    user = queries.get_user(user_id) or abort(404)
    form = GrantRoleForm()
    if not form.validate():
        abort(400)
    try:
        services.grant_role(current_user, user, form.role.data, form.scope.data)
    except AccountError as error:
        if error.status == 403:
            abort(403)
        transaction.discard()
        flash(str(error.message), "error")
    else:
        flash(_("Role granted to %(name)s.", name=user.name), "success")
    return _back_to_users()


@bp.post("/pengguna/<int:user_id>/peran/<role>/cabut")
@login_required
def revoke_role(user_id: int, role: str):
    _require_role_manager()
    user = queries.get_user(user_id) or abort(404)
    try:
        services.revoke_role(current_user, user, role)
    except AccountError as error:
        abort(error.status)
    flash(_("Role revoked from %(name)s.", name=user.name), "info")
    return _back_to_users()


@bp.post("/pengguna/<int:user_id>/aktif")
@login_required
def set_active(user_id: int):
    """Deactivate or reactivate an account (directorate only); deactivation ends its logins."""
    if not permissions.can(current_user, "users.deactivate"):
        abort(403)
    user = queries.get_user(user_id) or abort(404)
    if user.id == current_user.id:
        flash(_("You cannot deactivate your own account."), "error")
        return _back_to_users()
    active = request.form.get("active") == "1"
    services.set_active(current_user, user, active)
    flash(_("%(name)s is active again.", name=user.name) if active else _("%(name)s has been deactivated.",
                                                                          name=user.name), "info")
    return _back_to_users()
