"""KIM pages: the public list and profiles, registration, editing, members, verification."""
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from kim_platform import permissions
from kim_platform.accounts.forms import PostForm
from kim_platform.core import exports as core_exports
from kim_platform.core import throttle, transaction
from kim_platform.core.auth import limiter
from kim_platform.core.i18n import current_locale
from kim_platform.core.maps import embed, kim_map, points_map
from kim_platform.core.pagination import page_arg
from kim_platform.core.replica import reads_primary
from kim_platform.core.storage import KEY_RE, send_stored
from kim_platform.core.urls import local_referrer
from kim_platform.kims import forms as kim_forms
from kim_platform.kims import exports, mails, queries, services, slots  # noqa: F401 (slots: declared for the profile)
from kim_platform.kims.forms import ExportForm, InviteForm, JoinForm, KimForm, RejectForm
from kim_platform.kims.models import ADMIN, ANGGOTA, KETUA, MEMBER_ROLES, PENGURUS_POSITIONS, STATUS_LABELS, STATUSES
from kim_platform.kims.services import KimError
from kim_platform.regions.codes import CODE_RE, LEVELS, is_valid_code
from kim_platform.regions.queries import (
    ancestors_of,
    children_page,
    get_region,
    provinces,
    region_extent,
)

bp = Blueprint("kims", __name__)
PER_PAGE = 30


def _kim_or_404(ref: str):
    kim = queries.get_kim_by_ref(ref)
    if kim is None or not permissions.can_view_kim(current_user, kim):
        abort(404)
    return kim


def _require(action: str, kim) -> None:
    if not permissions.can(current_user, action, kim):
        abort(403)


@bp.get("/kim")
def index():
    """The KIMs the viewer may see (verified ones; for members and pembina also those awaiting
    work), inactive ones with status=inactive, filtered."""
    region = request.args.get("wilayah", "").strip()
    region = region if CODE_RE.match(region) else None
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    bidang = request.args.get("bidang") or None
    sort = request.args.get("urut") if request.args.get("urut") in queries.SORTS else "name"
    q = (request.args.get("q") or "").strip()[:100]
    health = request.args.get("kesehatan") if request.args.get("kesehatan") in slots.HEALTH_STATES else None
    page = queries.list_kims(current_user, page=page_arg(), per_page=PER_PAGE,
                             region=region, bidang=bidang, status=status, q=q, sort=sort, health=health)
    return render_template(
        "kims/index.html", page=page, facts=queries.kim_facts(page.items), bidang_choices=queries.bidang_choices(),
        region=get_region(region) if region else None, filters={"wilayah": region or "", "bidang": bidang or "",
                                                                "status": status or "", "q": q, "urut": sort,
                                                                "kesehatan": health or ""},
        health_states=slots.HEALTH_STATES if slots.LIST_FILTERS.entries() else (),
        statuses=queries.status_choices(current_user),
        status_labels=STATUS_LABELS,
    )


def _region_chooser():
    """Selected provinsi → kabupaten → kecamatan → desa from the query string, with the options
    of each level, so the chooser works without JavaScript (one level per page load)."""
    chosen = {}
    for level in LEVELS:
        code = request.args.get(level, "").strip()
        parent = chosen.get(LEVELS[LEVELS.index(level) - 1]) if level != "provinsi" else None
        if code and is_valid_code(code) and (parent is None or code.startswith(parent.code + ".")):
            region = get_region(code)
            if region is not None and region.level == level:
                chosen[level] = region
                continue
        break
    options = {"provinsi": provinces()}
    for level in LEVELS[1:]:
        parent = chosen.get(LEVELS[LEVELS.index(level) - 1])
        options[level] = children_page(parent.code, 1, 200).items if parent else []
    return chosen, options


@bp.route("/kim/daftar", methods=["GET", "POST"])
@login_required
@throttle.throttled(throttle.posting("kim"))
def register():
    """Register a KIM: choose the desa, place the pin, describe the group; saved as a draft."""
    form = KimForm()
    form.bidang.choices = queries.bidang_choices()
    chosen, options = _region_chooser()
    desa = chosen.get("desa")
    errors, duplicates = {}, None
    if request.method == "POST":
        outcome, errors, duplicates = _save_kim(form, kim=None)
        if outcome is not None:
            return outcome
        desa = get_region(form.desa_code.data) if is_valid_code((form.desa_code.data or "").strip()) else None
    elif desa is not None:
        form.desa_code.data = desa.code
        extent = region_extent(desa.code)
        if extent.centroid and not form.lat.data:
            form.lat.data, form.lon.data = f"{extent.centroid[0]:.6f}", f"{extent.centroid[1]:.6f}"
    return render_template("kims/form.html", form=form, kim=None, chosen=chosen, options=options, desa=desa,
                           desa_path=ancestors_of(desa) if desa else [], duplicates=duplicates,
                           errors=errors), 422 if errors else 200


def _save_kim(form, kim):
    """Shared by register and edit: the one KIM parser (kims.forms), then forms.save as the API does.

    Answers (redirect or None, field errors, look-alikes to show)."""
    if not form.validate():  # the CSRF token only: every field is judged by the parser and services
        return None, {key: " ".join(map(str, messages)) for key, messages in form.errors.items()}, None
    try:
        given = kim_forms.from_request(request, editing=kim is not None)
        kim = kim_forms.save(current_user, given, kim)
    except services.PossibleDuplicate as refusal:
        form.confirm_not_duplicate.data = "1"  # saving again confirms
        return None, refusal.field_messages(), refusal.look_alikes
    except KimError as error:
        fields = error.field_messages() or {"_": str(error.message)}
        form.show_errors(error.fields or {"_": error.message})
        return None, fields, None
    flash(_("The KIM has been saved.") if given.action != kim_forms.SUBMIT else
          _("The KIM has been submitted for verification by the pembina of its kabupaten/kota."), "success")
    return redirect(url_for("kims.profile", ref=kim.public_ref)), {}, None


@bp.get("/kim/<ref>")
def profile(ref: str):
    """Public profile: name, badge, bidang, region path, pin, description, socials, members count."""
    kim = _kim_or_404(ref)
    facts, outline = queries.profile_facts(kim)
    fmap = kim_map((facts.lat, facts.lon), outline, kim.name)
    return render_template(
        "kims/profile.html", status_labels=STATUS_LABELS, kim=kim, facts=facts, bidang=_bidang_names(kim.bidang),
        kim_map=embed(fmap), map_var=fmap.get_name(),
        # The forms only for someone who may act: building one writes a CSRF token into the
        # session, which cost every anonymous visitor a session cookie (and the page its caching).
        role=permissions.kim_role(current_user, kim),
        reject_form=RejectForm() if permissions.is_authenticated(current_user) else None,
        post_form=PostForm() if permissions.is_authenticated(current_user) else None,
        nearby=queries.recent_kims_near(kim),
    )


def _bidang_names(slugs) -> list[str]:
    locale = current_locale()
    names = {b.slug: b.label(locale) for b in queries.bidang_list()}
    return [names.get(slug, slug) for slug in slugs]


@bp.route("/kim/<ref>/ubah", methods=["GET", "POST"])
@login_required
@throttle.throttled(throttle.posting("kim"))
def edit(ref: str):
    kim = _kim_or_404(ref)
    _require("kim.edit", kim)
    facts = queries.kim_facts([kim])[kim.id]
    form = KimForm(obj=kim) if request.method == "GET" else KimForm()
    form.bidang.choices = queries.bidang_choices()
    members = [SelectChoice("", "—")] + [SelectChoice(str(m.user_id), m.user.name) for m in kim.memberships]
    for position in PENGURUS_POSITIONS:
        getattr(form, f"pengurus_{position}").choices = members
    errors = {}
    if request.method == "GET":
        form.lat.data, form.lon.data = f"{facts.lat:.6f}", f"{facts.lon:.6f}"
        for platform, url in (kim.socials or {}).items():
            getattr(form, f"social_{platform}").data = url
        for membership in kim.memberships:
            if membership.position:
                getattr(form, f"pengurus_{membership.position}").data = str(membership.user_id)
    else:
        outcome, errors, _duplicates = _save_kim(form, kim)
        if outcome is not None:
            return outcome
        form.desa_code.data = (form.desa_code.data or "").strip() or kim.desa_code
    desa = get_region(form.desa_code.data) if is_valid_code(form.desa_code.data or "") else None
    return render_template("kims/form.html", form=form, kim=kim, chosen={}, options={}, desa=desa,
                           desa_path=ancestors_of(desa) if desa else [], duplicates=None,
                           errors=errors), 422 if errors else 200


@bp.post("/kim/<ref>/status/<action>")
@login_required
def change_status(ref: str, action: str):
    """Submit, verify, reject (with a reason), deactivate or reactivate."""
    kim = _kim_or_404(ref)
    if action not in services.TRANSITIONS:
        abort(404)
    reason = request.form.get("reason")
    try:
        services.change_status(current_user, kim, action, reason)
    except KimError as error:
        if error.status == 403:
            abort(403)
        transaction.discard()
        flash(str(next(iter(error.fields.values()), error.message)), "error")
        return redirect(local_referrer() or url_for("kims.profile", ref=kim.public_ref))
    mails.notify_status(kim, action)
    messages = {
        "submit": _("Submitted for verification."), "verify": _("Verified as %(number)s.", number=kim.number),
        "reject": _("Returned to the KIM with your reason."), "deactivate": _("Marked inactive."),
        "reactivate": _("Active again."),
    }
    flash(messages[action], "success")
    if action in ("verify", "reject") and permissions.can(current_user, "kim.queue"):
        return redirect(url_for("kims.queue"))
    return redirect(url_for("kims.profile", ref=kim.public_ref))


@bp.route("/kim/<ref>/anggota", methods=["GET", "POST"])
@login_required
def members(ref: str):
    """Members and their roles; ketua/admins invite by email, change roles, remove."""
    kim = _kim_or_404(ref)
    _require("kim.private", kim)
    form = InviteForm()
    form.role.choices = [SelectChoice(role, mails.ROLE_NAMES[role]) for role in (ANGGOTA, ADMIN, KETUA)]
    may_manage = permissions.can(current_user, "kim.members", kim)
    if request.method == "POST":
        # The service decides who may invite (before it looks at the input) and parses the input.
        try:
            invitation = services.invite_member(current_user, kim, form.email.data or "", form.role.data or "")
        except KimError as error:
            if error.status in (403, 404):
                raise  # the error page, through core.errors
            form.email.errors = [str(m) for m in error.fields.values()] or [str(error.message)]
        else:
            mails.send_invitation(invitation, current_user)
            flash(_("An invitation has been sent to %(email)s. They become a member once they accept it.",
                    email=invitation.email), "success")
            return redirect(url_for("kims.members", ref=kim.public_ref))
    return render_template("kims/members.html", kim=kim, form=form, post_form=PostForm(), may_manage=may_manage,
                           member_roles=MEMBER_ROLES,
                           invitations=queries.open_invitations_of(kim) if may_manage else [],
                           role_names=mails.ROLE_NAMES), 422 if form.errors else 200


@bp.get("/undangan/<token>")
@login_required
@reads_primary  # the link of a mail sent a moment ago: its invitation may be newer than a replica
def invitation(token: str):
    """The page of the mailed link: its invitee accepts or declines (anyone else: 404)."""
    found = services.answerable_invitation(current_user, services.invitation_id_from_token(token))
    if found is None:
        abort(404)
    return render_template("kims/invitation.html", invitation=found, post_form=PostForm(),
                           role_names=mails.ROLE_NAMES, is_open=services.invitation_is_open(found))


@bp.post("/undangan/<int:invitation_id>/<action>")
@login_required
def answer_invitation(invitation_id: int, action: str):
    """terima (accept) or tolak (decline), from "Akun saya" or the mailed link's page."""
    found = services.answerable_invitation(current_user, invitation_id)
    if found is None or action not in ("terima", "tolak"):
        abort(404)
    kim = found.kim
    try:
        if action == "terima":
            services.accept_invitation(current_user, found)
        else:
            services.decline_invitation(current_user, found)
    except KimError as error:
        transaction.discard()
        flash(str(error.message), "error")
        return redirect(url_for("accounts.profile"))
    if action == "terima":
        flash(_("You are now a member of %(name)s.", name=kim.name), "success")
        return redirect(url_for("kims.profile", ref=kim.public_ref))
    flash(_("You have declined the invitation to %(name)s.", name=kim.name), "info")
    return redirect(url_for("accounts.profile"))


@bp.post("/kim/<ref>/anggota/<int:user_id>/<action>")
@login_required
def member_action(ref: str, user_id: int, action: str):
    kim = _kim_or_404(ref)
    membership = next((m for m in kim.memberships if m.user_id == user_id), None)
    if membership is None or action not in ("hapus", "peran"):
        abort(404)
    leaving = action == "hapus" and user_id == current_user.id
    try:
        if action == "hapus":
            services.remove_member(current_user, kim, membership)
        else:
            services.set_member_role(current_user, kim, membership, request.form.get("role", ""))
    except KimError as error:
        if error.status in (403, 404):
            raise  # the error page, through core.errors
        transaction.discard()
        flash(str(error.message), "error")
    if leaving:
        return redirect(url_for("accounts.profile"))
    return redirect(url_for("kims.members", ref=kim.public_ref))


@bp.post("/kim/<ref>/kode-gabung")
@login_required
def new_join_code(ref: str):
    kim = _kim_or_404(ref)
    services.new_join_code(current_user, kim)  # refuses with 403 itself
    return redirect(url_for("kims.members", ref=kim.public_ref))


@bp.route("/kim/gabung", methods=["GET", "POST"])
@login_required
@limiter.limit("20 per hour", methods=["POST"])
def join():
    """Join a KIM with the code its ketua shared."""
    form = JoinForm()
    if form.validate_on_submit():
        try:
            kim = services.join_by_code(current_user, form.code.data)
        except KimError as error:
            form.code.errors = [str(m) for m in error.fields.values()] or [str(error.message)]
        else:
            flash(_("You are now a member of %(name)s.", name=kim.name), "success")
            return redirect(url_for("kims.profile", ref=kim.public_ref))
    return render_template("kims/join.html", form=form), 422 if form.errors else 200


@bp.route("/kim/ekspor", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"])
def export_request():
    """Ask for the KIM directory of a region (or of Indonesia) as a file: built in the background,
    shared with everyone who asks for the same file within the hour (core/exports.py)."""
    form = ExportForm(region=request.args.get("wilayah", ""))
    if form.validate_on_submit():
        try:
            export, _created = core_exports.request_export(exports.KIND, form.format.data, {"region": form.region.data})
        except core_exports.ExportError as error:
            for name, message in error.fields.items():
                getattr(form, name).errors = [str(message)]
            if not error.fields:
                form.region.errors = [str(error.message)]
        else:
            return redirect(url_for("kims.export_status", export_id=export.id))
    return render_template("kims/export_request.html", form=form), 422 if form.errors else 200


def _export_or_404(export_id: int):
    export = core_exports.get_export(export_id)
    if export is None or export.kind != exports.KIND:
        abort(404)
    return export


@bp.get("/kim/ekspor/<int:export_id>")
def export_status(export_id: int):
    """Where the file stands; the page reloads itself while it is being built (no script needed)."""
    export = _export_or_404(export_id)
    response = make_response(render_template("kims/export_status.html", export=export))
    if export.pending:
        response.headers["Refresh"] = "5"
    return response


@bp.get("/kim/ekspor/<int:export_id>/unduh")
def export_download(export_id: int):
    """The finished file (public data only: any visitor may download it)."""
    export = _export_or_404(export_id)
    if not export.ready:
        return redirect(url_for("kims.export_status", export_id=export.id))
    return send_stored(export.storage_key, public=True, download_name=export.filename())


@bp.get("/verifikasi")
@login_required
def queue():
    """Pembina: KIMs submitted in their region, oldest first, with look-alikes to check."""
    if not permissions.can(current_user, "kim.queue"):
        abort(403)
    page = queries.verification_queue(current_user, page_arg())
    duplicates = services.look_alikes_of_page(current_user, page.items)
    facts = queries.kim_facts(page.items)
    preview = points_map([(facts[k.id].lat, facts[k.id].lon, k.name) for k in page.items])
    return render_template("kims/queue.html", status_labels=STATUS_LABELS, page=page, facts=facts,
                           duplicates=duplicates, reject_form=RejectForm(), post_form=PostForm(),
                           preview=embed(preview) if preview else None)


@bp.get("/kim/<ref>/sk")
@login_required
def sk_file(ref: str):
    """The SK scan: for members and the region's pembina only (it may name private persons)."""
    kim = _kim_or_404(ref)
    _require("kim.private", kim)
    if not kim.sk_file_key:
        abort(404)
    return send_stored(kim.sk_file_key, public=False, download_name=f"SK-{kim.slug}{kim.sk_file_key[-4:]}")


@bp.get("/berkas/logo/<key>")
def logo(key: str):
    """A KIM's logo, and nothing else stored: visible exactly when the KIM is.

    Only a public (verified, inactive) KIM's logo may sit in shared caches; a draft's is private."""
    kim = queries.kim_by_logo_key(key) if KEY_RE.match(key) else None
    access = permissions.stored_file_access(lambda: current_user, "logo", kim) if kim else None
    if access is None:
        abort(404)
    return send_stored(key, public=access == "public")
