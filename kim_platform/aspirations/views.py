"""Aspiration pages: the intake form from a KIM ("Sampaikan aspirasi / laporan hoaks"), the list
(a pembina's queue, overdue first; a KIM member's items), the item page with its history and the
transition forms allowed for the viewer, and the evidence photos."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from kim_platform import permissions
from kim_platform.accounts.forms import PostForm
from kim_platform.aspirations import forms, queries, services
from kim_platform.aspirations.models import (
    HOAKS,
    HOAX_CHANNEL_LABELS,
    HOAX_CHANNELS,
    KIND_LABELS,
    KINDS,
    PUBLISHABLE_STATES,
    STATE_LABELS,
    STATES,
    TOPIC_LABELS,
    TOPICS,
    TRANSITIONS,
    UP,
    VERDICT_LABELS,
    VERDICTS,
)
from kim_platform.core import clock, throttle, transaction
from kim_platform.core.clock import utcnow
from kim_platform.core.domain import DomainError
from kim_platform.core.storage import KEY_RE, send_stored
from kim_platform.kims.queries import get_kim_by_ref
from kim_platform.regions.codes import is_valid_code

bp = Blueprint("aspirations", __name__)
PER_PAGE = 30


def _item_or_404(item_id: int):
    item = queries.get_aspiration(item_id)
    if item is None or not permissions.aspiration_visible(current_user, item):
        abort(404)
    return item


def _choices():
    return {"kinds": [(k, KIND_LABELS[k]) for k in KINDS], "topics": [(t, TOPIC_LABELS[t]) for t in TOPICS],
            "hoax_channels": [(c, HOAX_CHANNEL_LABELS[c]) for c in HOAX_CHANNELS]}


def _render_form(kim, values, errors, status=200):
    return render_template("aspirations/form.html", kim=kim, values=values, errors=errors, form=PostForm(),
                           **_choices()), status


@bp.route("/kim/<ref>/aspirasi/baru", methods=["GET", "POST"])
@login_required
@throttle.throttled(throttle.posting("aspiration"))
def new(ref: str):
    """"Sampaikan aspirasi / laporan hoaks": for the KIM's members."""
    kim = get_kim_by_ref(ref)
    if kim is None or not permissions.kim_visible(current_user, kim):
        abort(404)
    if not permissions.can(current_user, "aspiration.create", kim):
        abort(403)
    if request.method == "POST":
        if not PostForm().validate():
            abort(400)
        raw, photos = forms.aspiration_input(request)
        try:
            item = services.submit_aspiration(current_user, kim, raw, photos)
        except DomainError as error:
            if error.status in (403, 404) and not error.fields:
                abort(error.status)
            errors = error.field_messages() or {"_": str(error.message)}
            # Echo what was typed, cut to the longest a field accepts (never megabytes back).
            values = {key: value[:services.MAX_DESCRIPTION] if isinstance(value, str) else value
                      for key, value in raw.items()}
            return _render_form(kim, values, errors, error.http_status)
        flash(_("Recorded. The pembina of your region will verify it within 3 working days."), "success")
        return redirect(url_for("aspirations.detail", item_id=item.id))
    return _render_form(kim, {"desa_code": kim.desa_code, "residents_count": "1", "kind": request.args.get("jenis", "")},
                        {})


@bp.get("/aspirasi")
@login_required
def index():
    """The items I may see, overdue first: a pembina's queue, a KIM member's items."""
    filters = queue_filters()
    cursor = request.args.get("setelah", "")[:200] or None
    page = queries.aspiration_page(current_user, cursor=cursor, per_page=PER_PAGE, **filters)
    return render_template("aspirations/index.html", page=page, counts=queries.counts_by_state(current_user, **filters),
                           now=utcnow(), kind=filters["kind"] or "", state=filters["state"] or "",
                           region=filters["region"] or "", topic=filters["topic"] or "",
                           overdue=request.args.get("terlambat", ""), kind_labels=KIND_LABELS,
                           state_labels=STATE_LABELS, topic_labels=TOPIC_LABELS, states=STATES, kinds=KINDS,
                           topics=TOPICS, oversight=permissions.can(current_user, "aspiration.oversight"))


def queue_filters() -> dict:
    """The queue's filters from the query string (jenis, status, topik, wilayah, terlambat); an
    unknown value is ignored. The page and its exports read the same ones."""
    kind = request.args.get("jenis") if request.args.get("jenis") in KINDS else None
    state = request.args.get("status") if request.args.get("status") in STATES else None
    topic = request.args.get("topik") if request.args.get("topik") in TOPICS else None
    region = request.args.get("wilayah", "").strip()
    region = region if is_valid_code(region) else None
    overdue = {"1": True, "0": False}.get(request.args.get("terlambat", ""))
    return {"kind": kind, "state": state, "topic": topic, "region": region, "overdue": overdue}


@bp.get("/aspirasi/statistik")
def stats():
    """Public figures of a region (down to the kabupaten/kota): counts only, never an item."""
    region = request.args.get("wilayah", "").strip()
    region = region if is_valid_code(region) and len(region) <= 5 else None
    return render_template("aspirations/stats.html", stats=queries.public_stats(region), region=region or "",
                           region_names=queries.region_names([region]), kind_labels=KIND_LABELS,
                           state_labels=STATE_LABELS, topic_labels=TOPIC_LABELS, window=queries.STATS_WINDOW_DAYS)


def _public_filters():
    kind = request.args.get("jenis") if request.args.get("jenis") in KINDS else None
    region = request.args.get("wilayah", "").strip()
    return kind, (region if is_valid_code(region) else None)


@bp.get("/aspirasi/publik")
def public_index():
    """Answered items and hoax clarifications their handlers chose to publish, newest first (keyset
    pages, no total): the handler's texts only, never a name, a contact or the resident's words."""
    kind, region = _public_filters()
    cursor = request.args.get("setelah", "")[:200] or None
    page = queries.public_page(region=region, kind=kind, cursor=cursor, per_page=PER_PAGE)
    return render_template("aspirations/public_index.html", page=page, kind=kind or "", region=region or "",
                           names=queries.public_place_names(page.items), kinds=KINDS, kind_labels=KIND_LABELS,
                           topic_labels=TOPIC_LABELS, verdict_labels=VERDICT_LABELS,
                           region_names=queries.region_names([region]))


@bp.get("/aspirasi/publik/<int:item_id>")
def public_detail(item_id: int):
    """One published item (404 unless published)."""
    item = queries.public_item(item_id)
    if item is None:
        abort(404)
    return render_template("aspirations/public_detail.html", item=item, names=queries.public_place_names([item]),
                           kind_labels=KIND_LABELS, topic_labels=TOPIC_LABELS, verdict_labels=VERDICT_LABELS)


@bp.get("/aspirasi/<int:item_id>")
@login_required
def detail(item_id: int):
    """One item: what was raised, where it stands, its deadline, history and the allowed actions."""
    item = _item_or_404(item_id)
    allowed = [t for t in TRANSITIONS.values() if item.state in t.sources
               and permissions.can_transition_aspiration(current_user, item, t.by)
               and not (t.action == "perpanjang" and item.extended)]
    return render_template(
        "aspirations/detail.html", item=item, events=queries.history(item), allowed=allowed, now=utcnow(),
        personal=permissions.can_see_aspiration_personal(current_user, item), post_form=PostForm(),
        can_clarify=_clarifiable(item) and permissions.can(current_user, "aspiration.clarify", item),
        kind_labels=KIND_LABELS, state_labels=STATE_LABELS, topic_labels=TOPIC_LABELS,
        hoax_channel_labels=HOAX_CHANNEL_LABELS, verdict_labels=VERDICT_LABELS, verdicts=VERDICTS, up=UP,
        region_names=queries.region_names([item.desa_code, item.handler_scope]),
        errors={}, values={}, publishable=item.state in PUBLISHABLE_STATES and bool(item.answer)
        and permissions.can_publish_aspiration(current_user, item))


def _clarifiable(item) -> bool:
    return (item.kind == HOAKS and item.verdict is not None and item.state in services.CLARIFIABLE_STATES
            and item.clarification_activity_id is None)


@bp.route("/aspirasi/<int:item_id>/klarifikasi", methods=["GET", "POST"])
@login_required
@throttle.throttled(throttle.posting("report"))
def clarify(item_id: int):
    """"Terbitkan klarifikasi hoaks": the KIM's report prefilled from the answered hoax item; the
    member may change its text, then one POST publishes it (services.publish_clarification)."""
    item = _item_or_404(item_id)
    if not permissions.can(current_user, "aspiration.clarify", item):
        abort(403)
    if item.clarification_activity_id is not None:
        flash(_("A hoax clarification has already been published for this item."), "info")
        return redirect(url_for("activities.detail", activity_id=item.clarification_activity_id))
    if not _clarifiable(item):
        flash(_("Only an answered hoax report with a verdict can be published as a hoax clarification."), "error")
        return redirect(url_for("aspirations.detail", item_id=item.id))
    values, errors, status = services.clarification_draft(item), {}, 200
    if request.method == "POST":
        if not PostForm().validate():
            abort(400)
        given = forms.clarification_input(request)
        try:
            activity = services.publish_clarification(current_user, item, given)
        except DomainError as error:
            if error.status in (403, 404) and not error.fields:
                abort(error.status)
            if error.status == 409:  # published meanwhile (another member), or no longer clarifiable
                transaction.discard()
                flash(str(error.message), "error")
                return redirect(url_for("aspirations.detail", item_id=item.id))
            errors = error.field_messages() or {"_": str(error.message)}
            values = {key: value[:20_000] if isinstance(value, str) else "" for key, value in given.items()}
            status = error.http_status
        else:
            flash(_("The hoax clarification is published as your KIM's activity report."), "success")
            return redirect(url_for("activities.detail", activity_id=activity.id))
    return render_template("aspirations/clarify.html", item=item, values=values, errors=errors, form=PostForm(),
                           verdict_labels=VERDICT_LABELS, today=clock.local_today(item.kim.desa_code),
                           region_names=queries.region_names([item.desa_code])), status


@bp.post("/aspirasi/<int:item_id>/tindak")
@login_required
@throttle.throttled(throttle.posting("aspiration"))
def act(item_id: int):
    """Carry out one transition, back to the item page with the outcome."""
    item = _item_or_404(item_id)
    if not PostForm().validate():
        abort(400)
    action, fields = forms.transition_input(request)
    try:
        services.transition(current_user, item, action, fields)
    except DomainError as error:
        if error.status in (403, 404):
            abort(error.status)
        transaction.discard()
        flash(" ".join([str(error.message), *error.field_messages().values()]), "error")
    else:
        flash(_("Saved."), "success")
    if not permissions.aspiration_visible(current_user, item):  # transferred out of my region
        return redirect(url_for("aspirations.index"))
    return redirect(url_for("aspirations.detail", item_id=item.id))


@bp.get("/aspirasi/foto/<key>")
@login_required
def photo(key: str):
    """Evidence: visible exactly when its item is; never publicly cached."""
    found = queries.photo_by_key(key) if KEY_RE.match(key) else None
    if found is None or not permissions.aspiration_visible(current_user, found.aspiration):
        abort(404)
    return send_stored(key, public=False)


def _publication(item_id: int, change):
    """Publish or hide an item's public version (the handler), back to the item page."""
    item = _item_or_404(item_id)
    if not PostForm().validate():
        abort(400)
    try:
        change(item)
    except DomainError as error:
        if error.status in (403, 404):
            abort(error.status)
        transaction.discard()
        flash(" ".join([str(error.message), *error.field_messages().values()]), "error")
        return redirect(url_for("aspirations.detail", item_id=item.id))
    flash(_("Saved."), "success")
    return redirect(url_for("aspirations.detail", item_id=item.id))


@bp.post("/aspirasi/<int:item_id>/publikasi")
@login_required
@throttle.throttled(throttle.posting("aspiration"))
def publish(item_id: int):
    """Publish (or update) the public version of an answered item, with the texts the handler submits."""
    return _publication(item_id, lambda item: services.publish_aspiration(
        current_user, item, forms.publication_input(request)))


@bp.post("/aspirasi/<int:item_id>/tarik-publikasi")
@login_required
@throttle.throttled(throttle.posting("aspiration"))
def unpublish(item_id: int):
    """Hide the public version again (its public page answers 404)."""
    return _publication(item_id, lambda item: services.unpublish_aspiration(current_user, item))


# The oversight pages (time to answer, repeated topics, exports) live on this blueprint too.
from kim_platform.aspirations import oversight_views  # noqa: E402,F401
