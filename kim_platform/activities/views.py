"""Activity pages: report form, report page (shareable), feeds, Atom, moderation, photos."""
from datetime import date

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from kim_platform import permissions
from kim_platform.accounts.forms import PostForm
from kim_platform.activities import forms, queries, services
from kim_platform.activities.models import STATUS_LABELS, ActivityStatus
from kim_platform.core import clock, throttle, transaction
from kim_platform.core.domain import DomainError
from kim_platform.core.i18n import current_locale
from kim_platform.core.maps import embed, kim_map
from kim_platform.core.pagination import page_arg
from kim_platform.core.storage import KEY_RE, send_stored
from kim_platform.core.urls import absolute_url
from kim_platform.core.text import xml_safe
from kim_platform.kims.queries import bidang_list, get_kim_by_ref
from kim_platform.regions.codes import CODE_RE, is_valid_code
from kim_platform.regions.queries import get_region

bp = Blueprint("activities", __name__)
PER_PAGE = 20


def _activity_or_404(activity_id: int):
    activity = queries.get_activity(activity_id, with_kim=True)
    if activity is None or not permissions.can_view_activity(current_user, activity):
        abort(404)
    return activity


def _form_values(activity=None) -> dict:
    """What the form shows: the submitted values, or the report's, or sensible defaults."""
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in services.FIELDS}
        return values
    if activity is None:
        given = {key: request.args.get(key, "")[:150] for key in ("type", "title") if key in request.args}
        return {**{"date": clock.today().isoformat(), "type": "", "title": "", "description": "", "desa_code": "",
                "lat": "", "lon": "", "reach_offline": "", "reach_online": "", "links": "", "tags": "",
                "late_reason": ""}, **given}
    return {"title": activity.title, "date": activity.activity_date.isoformat(), "type": activity.type,
            "description": activity.description_md, "desa_code": activity.desa_code, "lat": "", "lon": "",
            "reach_offline": activity.reach_offline or "", "reach_online": activity.reach_online or "",
            "links": "\n".join(activity.links or []), "tags": ", ".join(activity.tags or []),
            "late_reason": activity.late_reason or ""}


@bp.route("/kim/<ref>/lapor", methods=["GET", "POST"])
@login_required
@throttle.throttled(throttle.posting("report"))
def report(ref: str):
    """Lapor kegiatan: one phone-friendly form, photos straight from the camera."""
    kim = get_kim_by_ref(ref)
    if kim is None or not permissions.can_view_kim(current_user, kim):
        abort(404)
    if not permissions.can(current_user, "activity.create", kim):
        abort(403)
    form = PostForm()
    errors = {}
    if request.method == "POST" and form.validate():
        try:
            given = forms.from_request(request)
            activity = services.create_activity(current_user, kim, given.raw, given.photos,
                                                publish=given.action == forms.PUBLISH)
        except DomainError as error:
            errors = {key: str(message) for key, message in (error.fields or {"_": error.message}).items()}
        else:
            flash(_("Your report is published. Share it!") if activity.status == ActivityStatus.PUBLISHED
                  else _("Saved as a draft."), "success")
            return redirect(url_for("activities.detail", activity_id=activity.id))
    return render_template("activities/form.html", kim=kim, activity=None, form=form, values=_form_values(),
                           params=request.values, errors=errors, types=queries.activity_types(), locale=current_locale(),
                           today=clock.today().isoformat()), 422 if errors else 200


@bp.route("/kegiatan/<int:activity_id>/ubah", methods=["GET", "POST"])
@login_required
@throttle.throttled(throttle.posting("report"))
def edit(activity_id: int):
    activity = _activity_or_404(activity_id)
    if not permissions.can(current_user, "activity.edit", activity):
        abort(403)
    form = PostForm()
    errors = {}
    if request.method == "POST" and form.validate():
        remove = [int(i) for i in request.form.getlist("remove_photo") if i.isdigit()]
        try:
            given = forms.from_request(request, editing=True)
            services.update_activity(current_user, activity, given.raw, given.photos, remove)
            services.finish_edit(current_user, activity, given.action)
        except DomainError as error:
            errors = {key: str(message) for key, message in (error.fields or {"_": error.message}).items()}
        else:
            flash(_("The report has been saved."), "success")
            return redirect(url_for("activities.detail", activity_id=activity.id))
    return render_template("activities/form.html", kim=activity.kim, activity=activity, form=form,
                           values=_form_values(activity), errors=errors, types=queries.activity_types(),
                           locale=current_locale(), today=clock.today().isoformat()), 422 if errors else 200


@bp.get("/kegiatan/<int:activity_id>")
def detail(activity_id: int):
    """The report page, with Open Graph tags so a shared link shows a preview."""
    activity = _activity_or_404(activity_id)
    facts, outline = queries.report_facts(activity)
    fmap = embed(kim_map((facts.lat, facts.lon), outline, activity.title)) if facts.lat is not None else None
    return render_template("activities/detail.html", activity=activity, facts=facts, type_names=queries.activity_type_names(),
                           activity_map=fmap, post_form=PostForm(), status_labels=STATUS_LABELS,
                           processing_photos=queries.processing_photo_count(activity))


@bp.post("/kegiatan/<int:activity_id>/<action>")
@login_required
def act(activity_id: int, action: str):
    """hapus (delete), sembunyikan (hide, with reason), tampilkan (unhide)."""
    activity = _activity_or_404(activity_id)
    kim_ref = activity.kim.public_ref
    operations = {
        "hapus": lambda: services.delete_activity(current_user, activity),
        "sembunyikan": lambda: services.hide_activity(current_user, activity, request.form.get("reason", "")),
        "tampilkan": lambda: services.unhide_activity(current_user, activity),
    }
    if action not in operations:
        abort(404)
    try:
        operations[action]()
    except DomainError as error:
        if error.status == 403:
            abort(403)
        transaction.discard()
        flash(str(next(iter(error.fields.values()), error.message)), "error")
        return redirect(url_for("activities.detail", activity_id=activity_id))
    if action == "hapus":
        flash(_("The report has been deleted."), "info")
        return redirect(url_for("kims.profile", ref=kim_ref))
    flash(_("The report is hidden from the public.") if action == "sembunyikan" else _("The report is public again."),
          "info")
    return redirect(url_for("activities.detail", activity_id=activity_id))


def _feed_filters() -> dict:
    region = request.args.get("wilayah", "").strip()
    filters = {
        "region": region if CODE_RE.match(region) else None,
        "type": request.args.get("jenis") or None,
        "bidang": request.args.get("bidang") or None,
    }
    for key, arg in (("date_from", "dari"), ("date_to", "sampai")):
        try:
            filters[key] = date.fromisoformat(request.args.get(arg, ""))
        except ValueError:
            filters[key] = None
    return filters


@bp.get("/kegiatan")
def index():
    """The national feed of published reports the viewer may see, with filters."""
    filters = _feed_filters()
    page = queries.feed(current_user, page=page_arg(), per_page=PER_PAGE, **filters)
    locale = current_locale()
    return render_template(
        "activities/index.html", page=page, facts=queries.activity_facts(page.items), type_names=queries.activity_type_names(),
        types=queries.activity_types(), bidang=[(b.slug, b.label(locale)) for b in bidang_list()],
        args=request.args, region=get_region(filters["region"]) if filters["region"] else None,
    )


def _atom(title: str, activities, self_url: str, html_url: str):
    facts = queries.activity_facts(activities)
    updated = max((a.updated_at for a in activities), default=None) or clock.utcnow()
    body = render_template("activities/feed.atom.xml",  # .xml: autoescaped
                           title=title, activities=activities, facts=facts, updated=updated,
                           self_url=self_url, html_url=html_url, type_names=queries.activity_type_names())
    response = make_response(xml_safe(body))  # rows stored before control characters were refused
    response.mimetype = "application/atom+xml"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/wilayah/<code>/kegiatan.atom")
def region_feed(code: str):
    region = get_region(code) if is_valid_code(code) else None
    if region is None:
        abort(404)
    return _atom(_("Activities in %(region)s", region=region.title), queries.latest(30, region=code),
                 absolute_url("activities.region_feed", code=code), absolute_url("regions.detail", code=code))


@bp.get("/kim/<ref>/kegiatan.atom")
def kim_feed(ref: str):
    kim = get_kim_by_ref(ref)
    if kim is None or not permissions.can_view_kim(current_user, kim):
        abort(404)
    return _atom(_("Activities of %(name)s", name=kim.name), queries.latest(30, kim_id=kim.id),
                 absolute_url("activities.kim_feed", ref=ref), absolute_url("kims.profile", ref=kim.public_ref))


@bp.get("/moderasi")
@login_required
def moderation():
    """Pembina: the latest reports of their region; hide with a reason or show again."""
    if not permissions.can(current_user, "activity.moderation_queue"):
        abort(403)
    page = queries.moderation_queue(current_user, page_arg())
    return render_template("activities/moderation.html", page=page, facts=queries.activity_facts(page.items),
                           type_names=queries.activity_type_names(), post_form=PostForm(), status_labels=STATUS_LABELS)


@bp.get("/foto/<key>")
def photo(key: str):
    """A report's photo; visible exactly when the report is."""
    if not KEY_RE.match(key):
        abort(404)
    found = queries.photo_by_key(key)
    # Public caching only for what an anonymous visitor may see (not a published report of a
    # KIM still awaiting verification, which its members see); that is decided without the
    # session, so a public photo stays cached when the session cookie changes.
    access = permissions.stored_file_access(lambda: current_user, "photo", found[0].activity) if found else None
    if access is None:
        abort(404)
    return send_stored(key, public=access == "public")
