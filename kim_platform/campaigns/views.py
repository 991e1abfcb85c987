"""Campaign pages: the list (/kampanye), the public campaign page, create/edit/publish/close for
the directorate and pembina, materials."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from kim_platform import permissions
from kim_platform.accounts.forms import PostForm
from kim_platform.campaigns import forms, queries, services, sharing
from kim_platform.campaigns.models import CHANNEL_LABELS, CLOSED, DISSEMINATION_TYPE, DRAFT, PUBLISHED, \
    STATUS_LABELS
from kim_platform.core import throttle, transaction
from kim_platform.core.auth import limiter
from kim_platform.core.domain import DomainError
from kim_platform.core.i18n import current_locale
from kim_platform.core.pagination import int_arg
from kim_platform.core.storage import KEY_RE, send_stored
from kim_platform.kims.queries import bidang_list, get_kim
from kim_platform.regions.codes import is_valid_code

bp = Blueprint("campaigns", __name__)
PER_PAGE = 20
ACTIONS = {"terbitkan": services.publish_campaign, "tutup": services.close_campaign}


def _campaign_or_404(campaign_id: int):
    campaign = queries.get_campaign(campaign_id)
    if campaign is None or not permissions.campaign_visible(current_user, campaign):
        abort(404)
    return campaign


@bp.get("/kampanye")
def index():
    """Campaigns: filters wilayah, aktif, bidang; newest first, "older" by cursor (no total)."""
    region = request.args.get("wilayah", "").strip()
    region = region if is_valid_code(region) else None
    active = {"1": True, "0": False}.get(request.args.get("aktif", ""))
    bidang = request.args.get("bidang", "").strip()[:40] or None
    cursor = int_arg("sebelum", 0, 0, 2**62) or None
    page = queries.campaign_page(current_user, cursor=cursor, per_page=PER_PAGE, region=region, active=active,
                                 bidang=bidang)
    return render_template("campaigns/index.html", page=page, region=region or "", active=request.args.get("aktif", ""),
                           bidang=bidang or "", bidang_options=bidang_list(), locale=current_locale(),
                           status_labels=STATUS_LABELS, can_create=permissions.can(current_user, "campaign.create"))


def _form_values(campaign=None) -> dict:
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in services.FIELDS}
        values["bidang"] = request.form.getlist("bidang")
        return values
    if campaign is None:
        return {"title": "", "key_message": "", "description": "", "targets": permissions.pembina_scope(current_user)
                or "", "bidang": [], "start_date": "", "end_date": "", "links": "", "hashtags": ""}
    return {"title": campaign.title, "key_message": campaign.key_message, "description": campaign.description_md,
            "targets": " ".join(campaign.target_codes), "bidang": list(campaign.target_bidang or []),
            "start_date": campaign.start_on.isoformat(), "end_date": campaign.end_on.isoformat(),
            "links": "\n".join(campaign.links or []), "hashtags": " ".join(campaign.hashtags or [])}


def _render_form(campaign, errors, status=200):
    return render_template("campaigns/form.html", campaign=campaign, form=PostForm(), values=_form_values(campaign),
                           errors=errors, bidang_options=bidang_list(), locale=current_locale()), status


def _save(campaign=None):
    """The page's half of forms.save: a refusal with field errors re-renders the form (a target
    outside the scope with 403); any other 403/404 is the error page."""
    try:
        campaign = forms.save(current_user, forms.from_request(request, editing=campaign is not None), campaign)
    except DomainError as error:
        if error.status in (403, 404) and not error.fields:
            abort(error.status)
        errors = {key: str(message) for key, message in (error.fields or {"_": error.message}).items()}
        return _render_form(campaign, errors, error.http_status)
    flash(_("The campaign has been saved.") if campaign.status == DRAFT else _("The campaign is published."),
          "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.route("/kampanye/baru", methods=["GET", "POST"])
@login_required
@throttle.throttled(throttle.posting("campaign"))
def new():
    if not permissions.can(current_user, "campaign.create"):
        abort(403)
    if request.method == "POST" and PostForm().validate():
        return _save()
    return _render_form(None, {})


@bp.get("/kampanye/<int:campaign_id>")
@transaction.writes_on_get  # a member's first view makes their KIM's share link
def detail(campaign_id: int):
    """The public campaign page: message, materials, links, period and the reach so far; for a
    member of a targeted KIM, that KIM's share link, WhatsApp text and poster."""
    campaign = _campaign_or_404(campaign_id)
    recent = queries.dissemination_page(current_user, campaign, per_page=10)
    return render_template(
        "campaigns/detail.html", campaign=campaign, reach=queries.reach(campaign), recent=recent.items,
        shares=_my_shares(campaign),
        channels=queries.channels_of(a.id for a in recent.items), channel_labels=CHANNEL_LABELS,
        region_names=queries.region_names(campaign.target_codes), status_labels=STATUS_LABELS,
        my_kims=queries.my_targeted_kims(current_user, campaign) if campaign.is_open else [],
        dissemination_type=DISSEMINATION_TYPE, manage=permissions.can(current_user, "campaign.manage", campaign),
        post_form=PostForm(), DRAFT=DRAFT, PUBLISHED=PUBLISHED, CLOSED=CLOSED)


@bp.route("/kampanye/<int:campaign_id>/ubah", methods=["GET", "POST"])
@login_required
@throttle.throttled(throttle.posting("campaign"))
def edit(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    if not permissions.can(current_user, "campaign.manage", campaign):
        abort(403)
    if request.method == "POST" and PostForm().validate():
        return _save(campaign)
    return _render_form(campaign, {})


@bp.post("/kampanye/<int:campaign_id>/<any(terbitkan, tutup):action>")
@login_required
def act(campaign_id: int, action: str):
    """Publish or close, back to the campaign page with the outcome."""
    campaign = _campaign_or_404(campaign_id)
    if not PostForm().validate():
        abort(400)
    try:
        ACTIONS[action](current_user, campaign)
    except DomainError as error:
        if error.status in (403, 404):
            abort(error.status)
        transaction.discard()
        flash(" ".join([str(error.message), *map(str, error.fields.values())]), "error")
    else:
        flash(_("The campaign is published.") if action == "terbitkan" else _("The campaign is closed."), "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.post("/kampanye/<int:campaign_id>/materi")
@login_required
@throttle.throttled(throttle.posting("campaign"))
def upload(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    if not PostForm().validate():
        abort(400)
    given = forms.material_upload(request) or (b"", "", None)
    try:
        services.add_material(current_user, campaign, *given)
    except DomainError as error:
        if error.status in (403, 404):
            abort(error.status)
        transaction.discard()
        flash(" ".join(str(m) for m in (error.fields or {"_": error.message}).values()), "error")
    else:
        flash(_("The material has been added."), "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.get("/kampanye/berkas/<key>")
def material(key: str):
    """A campaign's material: visible exactly when the campaign is (cached when it is public)."""
    found = queries.material_by_key(key) if KEY_RE.match(key) else None
    if found is None or not permissions.campaign_visible(current_user, found.campaign):
        abort(404)
    return send_stored(key, public=permissions.campaign_visible(None, found.campaign))




# --- share links and posters ----------------------------------------------------------------------

# Per address: far above what people opening a link do (many residents may share one carrier
# address), low enough that guessing codes or inflating a counter gets nowhere.
SHARE_VISIT_LIMITS = "60 per minute;1000 per hour"


def _share(campaign, kim, link) -> dict:
    url = sharing.share_url(link)
    text = sharing.whatsapp_text(campaign, url)
    return {"kim": kim, "link": link, "url": url, "text": text, "whatsapp": sharing.whatsapp_share_url(text)}


def _my_shares(campaign) -> list[dict]:
    """The viewer's KIMs that the campaign targets, each with its share link (made now if the
    campaign is published; a closed one shows the links it has). Refusals just leave a KIM out."""
    if not permissions.is_person(current_user) or campaign.current_status not in (PUBLISHED, CLOSED):
        return []
    shares = []
    for kim in queries.my_targeted_kims(current_user, campaign):
        try:
            link, _created = services.create_share_link(current_user, campaign, kim)
        except DomainError:
            continue
        shares.append(_share(campaign, kim, link))
    return shares


@bp.get("/p/<code>")
@limiter.limit(SHARE_VISIT_LIMITS, methods=["GET", "HEAD"])
@transaction.writes_on_get
def share_redirect(code: str):
    """A KIM's short link: counts the visit for that KIM (see services.count_share_visit: HEAD and
    chat link previews are not counted) and redirects to the campaign's public page. An unknown
    code or a draft campaign is the ordinary 404 page, telling nothing."""
    campaign_id = services.count_share_visit(code, request.remote_addr, request.user_agent.string, request.method)
    if campaign_id is None:
        abort(404)
    response = redirect(url_for("campaigns.detail", campaign_id=campaign_id), code=302)
    response.headers["Cache-Control"] = "no-store"  # every visit reaches the counter
    return response


@bp.get("/kampanye/<int:campaign_id>/poster")
@transaction.writes_on_get  # the first poster of a KIM makes its share link
def poster(campaign_id: int):
    """The printable A4 poster: key message, title and a QR code. With `kim` (a member of a
    targeted KIM): that KIM's name, desa and share link; without it: the campaign's public page."""
    campaign = _campaign_or_404(campaign_id)
    kim = share = None
    given = request.args.get("kim")
    if given is not None:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        kim_id = int_arg("kim", 0, 0, 2**62)
        kim = get_kim(kim_id) if kim_id else None
        try:
            link, _created = services.create_share_link(current_user, campaign, kim)
        except DomainError as error:
            if error.status == 404:
                abort(404)
            if error.status == 403:
                raise  # the error page with the service's message (not a member, not targeted)
            link = None  # a closed or draft campaign without a link: the public page's poster
        share = _share(campaign, kim, link) if link is not None else None
    url = share["url"] if share else sharing.public_url(campaign)
    region = queries.region_names([kim.desa_code]).get(kim.desa_code) if kim is not None else None
    return render_template("campaigns/poster.html", campaign=campaign, kim=kim, region_name=region, url=url,
                           qr=sharing.qr_svg(url), short_url=url.split("://", 1)[-1])
