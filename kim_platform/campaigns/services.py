"""Writing campaigns: validation, targets inside the creator's scope, materials, publishing with
its notices and daily digests, closing, and the link of a dissemination report to its campaign.

Operations flush; the request or CLI edge commits (core/transaction.py). Every change is audited.
"""
import hashlib
import hmac
import re
import secrets
from datetime import date
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from kim_platform import permissions
from kim_platform.activities.services import render_markdown
from kim_platform.audit.services import record
from kim_platform.campaigns.models import (
    CHANNELS,
    CLOSED,
    DISSEMINATION_TYPE,
    DRAFT,
    IMAGE,
    PDF,
    PUBLISHED,
    SHARE_CODE_ALPHABET,
    SHARE_CODE_LENGTH,
    Campaign,
    CampaignDigest,
    CampaignMaterial,
    CampaignNotice,
    CampaignShareLink,
    CampaignShareVisit,
    CampaignStatus,
    CampaignTarget,
    Dissemination,
)
from kim_platform.core import clock
from kim_platform.core.clock import utcnow
from kim_platform.core.domain import DomainError
from kim_platform.core.images import UploadError, check_pdf, check_pixel_budget, image_pixels, image_variants
from kim_platform.core.storage import delete_after_commit, save_in_transaction
from kim_platform.core.text import forbidden_character, text_problem
from kim_platform.extensions import db
from kim_platform.kims.models import KimStatus
from kim_platform.kims.services import known_bidang
from kim_platform.regions.codes import is_valid_code

FIELDS = ("title", "key_message", "description", "links", "hashtags", "targets", "bidang", "start_date",
          "end_date")
MAX_TITLE = 150
MAX_MESSAGE = 1000
MAX_DESCRIPTION = 20_000
# Enough for a national campaign of the directorate (all 38 provinces), far below a list nobody could check.
MAX_TARGETS = 40
MAX_LINKS = 10
MAX_HASHTAGS = 10
MAX_BIDANG = 6
MAX_MATERIALS = 12
IMAGE_MAX_BYTES = 15 * 1024 * 1024
PDF_MAX_BYTES = 20 * 1024 * 1024
PUBLIC_STATUSES = CampaignStatus.PUBLIC
HASHTAG_RE = re.compile(r"^[0-9A-Za-z_]{1,40}$")


class CampaignError(DomainError):
    """A campaign operation refused (the campaigns' own error; callers catch `DomainError`)."""


def _refuse(actor, allowed: bool, campaign: Campaign | None, message) -> None:
    """404 when the actor may not see the campaign (as its routes answer), else 403."""
    visible = campaign is None or permissions.campaign_visible(actor, campaign)
    status = permissions.refusal(allowed, visible=visible)
    if status == 404:
        raise CampaignError(_l("No such campaign."), status=404)
    if status:
        raise CampaignError(message, status=status)


def _list(value, split: str) -> list | None:
    """A JSON list, repeated form fields (already a list) or one text split on `split`."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in re.split(split, value) if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    return None


def _web_link(value: str) -> str:
    url = value.strip()
    parts = urlsplit(url)
    if (len(url) > 500 or forbidden_character(url) or parts.scheme.lower() not in ("http", "https")
            or "." not in (parts.hostname or "") or parts.username):
        raise ValueError
    return url


def _text(raw: dict, key: str, limit: int, errors: dict, clean: dict, required: bool, multiline: bool) -> None:
    value = raw.get(key)
    value = value.strip() if isinstance(value, str) else None if value is None else False
    if value is False:
        errors[key] = _l("Must be text.")
    elif not value and required:
        errors[key] = _l("This field is required.")
    elif value and text_problem(value, multiline=multiline):
        errors[key] = text_problem(value, multiline=multiline)
    elif value and len(value) > limit:
        errors[key] = _l("At most %(n)d characters.", n=limit)
    else:
        clean[key] = value or ""


def _date(raw: dict, key: str, errors: dict):
    value = raw.get(key)
    if value in (None, ""):
        errors[key] = _l("This field is required.")
        return None
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value).strip())
    except ValueError:
        errors[key] = _l("Use the date format YYYY-MM-DD.")
        return None


def clean_campaign_input(raw: dict, partial: bool = False, current: Campaign | None = None) -> dict:
    """Validate a campaign's fields; CampaignError names every bad field. Targets are shaped here
    (1..20 existing region codes, nested ones merged); their scope is the permission's concern."""
    errors: dict = {}
    clean: dict = {}
    present = {key for key in FIELDS if key in raw} if partial else set(FIELDS)
    for key, limit, required, multiline in (("title", MAX_TITLE, True, False),
                                            ("key_message", MAX_MESSAGE, True, True),
                                            ("description", MAX_DESCRIPTION, False, True)):
        if key in present:
            _text(raw, key, limit, errors, clean, required, multiline)
    if "links" in present:
        links = _list(raw.get("links"), r"[\n\r]+")
        if links is None or len(links) > MAX_LINKS:
            errors["links"] = _l("At most %(n)d links.", n=MAX_LINKS)
        else:
            try:
                clean["links"] = list(dict.fromkeys(_web_link(link) for link in links))
            except ValueError:
                errors["links"] = _l("Each link must be a web address starting with http:// or https://.")
    if "hashtags" in present:
        tags = _list(raw.get("hashtags"), r"[\s,]+")
        tags = None if tags is None else list(dict.fromkeys(t.strip().lstrip("#") for t in tags))
        if tags is None or len(tags) > MAX_HASHTAGS:
            errors["hashtags"] = _l("At most %(n)d hashtags.", n=MAX_HASHTAGS)
        elif not all(HASHTAG_RE.match(t) for t in tags):
            errors["hashtags"] = _l("A hashtag has only letters, digits and _ (at most 40).")
        else:
            clean["hashtags"] = tags
    if "bidang" in present:
        slugs = _list(raw.get("bidang"), r"[\s,]+")
        if slugs is None or len(slugs) > MAX_BIDANG:
            errors["bidang"] = _l("Choose at most %(n)d bidang.", n=MAX_BIDANG)
        else:
            slugs = list(dict.fromkeys(s.strip() for s in slugs))
            if slugs and not set(slugs) <= set(known_bidang()):
                errors["bidang"] = _l("Choose bidang from the list.")
            else:
                clean["target_bidang"] = slugs
    if "targets" in present:
        codes = _list(raw.get("targets"), r"[\s,;]+")
        if codes is None or not codes:
            errors["targets"] = _l("Choose at least one target region.")
        elif len(codes) > MAX_TARGETS:
            errors["targets"] = _l("At most %(n)d target regions.", n=MAX_TARGETS)
        else:
            codes = list(dict.fromkeys(c.strip() for c in codes))
            bad = next((c for c in codes if not is_valid_code(c)), None)
            if bad is not None:
                errors["targets"] = _l("%(code)s is not a region code.", code=bad[:20])
            else:
                from kim_platform.regions.models import Region

                from kim_platform.regions.places import retired_code_message

                known = {r.code: r for r in db.session.scalars(select(Region).where(Region.code.in_(codes)))}
                unknown = next((c for c in codes if c not in known), None)
                retired = next((known[c] for c in codes if c in known and known[c].retired_on is not None), None)
                if unknown is not None:
                    errors["targets"] = _l("No region has the code %(code)s.", code=unknown)
                elif retired is not None:
                    errors["targets"] = retired_code_message(retired)
                else:  # a target inside another one adds nothing
                    clean["targets"] = sorted(c for c in codes if not any(
                        o != c and permissions.code_within(c, o) for o in codes))
    start = end = None
    if "start_date" in present:
        start = clean["start_on"] = _date(raw, "start_date", errors)
    if "end_date" in present:
        end = clean["end_on"] = _date(raw, "end_date", errors)
    start = start or (current.start_on if current else None)
    end = end or (current.end_on if current else None)
    if start and end and end < start and "start_date" not in errors and "end_date" not in errors:
        errors["end_date"] = _l("The end date cannot be before the start date.")
    if errors:
        raise CampaignError(_l("Some fields need attention."), fields=errors)
    return clean


def _check_target_scope(actor, codes: list[str]) -> None:
    """Each target inside the actor's scope; else 403 naming the first code outside it."""
    outside = next((code for code in codes if not permissions.can_target_region(actor, code)), None)
    if outside is not None:
        message = _l("%(code)s lies outside your region: you may only send campaigns to the KIMs of your "
                     "own region.", code=outside)
        raise CampaignError(message, fields={"targets": message}, status=403)


def _snapshot(campaign: Campaign) -> dict:
    return {"title": campaign.title, "key_message": campaign.key_message, "status": campaign.status,
            "targets": campaign.target_codes, "bidang": list(campaign.target_bidang or []),
            "start_date": campaign.start_on.isoformat() if campaign.start_on else None,
            "end_date": campaign.end_on.isoformat() if campaign.end_on else None,
            "links": list(campaign.links or []), "hashtags": list(campaign.hashtags or []),
            "materials": len(campaign.materials)}


def _audit(actor, action: str, campaign: Campaign, before=None, after=None) -> None:
    record(actor, action, "campaign", campaign.id, scope_code=campaign.owner_scope, before=before, after=after)


def _lock_target_provinces(provinces: set[str]) -> None:
    """The target totals' province locks (migration b82740980ed0), taken in province order before
    the targets change: the statements that follow (deletes, then inserts) would otherwise take
    them in the order they run, and two edits moving targets between the same provinces in
    opposite directions could deadlock."""
    for province in sorted(provinces):
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('campaign_target_total'), hashtext(:p))"),
                           {"p": province})


def _assign(campaign: Campaign, values: dict) -> None:
    if "description" in values:
        campaign.description_md = values.pop("description")
        campaign.description_html = render_markdown(campaign.description_md)
    if "targets" in values:
        wanted = values.pop("targets")
        _lock_target_provinces({code[:2] for code in wanted} | {code[:2] for code in campaign.target_codes})
        campaign.targets = [t for t in campaign.targets if t.region_code in wanted] + [
            CampaignTarget(region_code=code) for code in wanted if code not in campaign.target_codes]
    for key, value in values.items():
        setattr(campaign, key, value)


def create_campaign(actor, raw: dict) -> Campaign:
    """A draft campaign by the directorate (anywhere) or a pembina (targets inside their scope)."""
    _refuse(actor, permissions.can_create_campaign(actor), None,
            _l("Only the directorate and pembina create campaigns."))
    try:
        values = clean_campaign_input(raw)
    except CampaignError as error:
        if "targets" not in error.fields:  # a target outside the scope is told first, as a 403
            _check_target_scope(actor, clean_campaign_input({"targets": raw.get("targets")}, partial=True)["targets"])
        raise
    _check_target_scope(actor, values["targets"])
    campaign = Campaign(status=DRAFT, owner_scope=permissions.pembina_scope(actor) if not permissions.is_direktorat(
        actor) else None, created_by_id=getattr(actor, "id", None), key_message=values.pop("key_message"),
        title=values.pop("title"))
    _assign(campaign, values)
    db.session.add(campaign)
    db.session.flush()
    _audit(actor, "campaign.create", campaign, after=_snapshot(campaign))
    return campaign


def update_campaign(actor, campaign: Campaign, raw: dict) -> Campaign:
    """Change some fields (left-out ones stay); a closed campaign is no longer changed. New target
    regions of a published campaign are notified like the first ones."""
    _refuse(actor, permissions.can_manage_campaign(actor, campaign), campaign, _l("You may not change this campaign."))
    if campaign.current_status == CLOSED:
        raise CampaignError(_l("This campaign is closed."), status=409)
    values = clean_campaign_input(raw, partial=True, current=campaign)
    if "targets" in values:
        _check_target_scope(actor, values["targets"])
        if any(not permissions.code_within(code, campaign.owner_scope) for code in values["targets"]):
            # Targets beyond the owner region (set by a pembina above, or the directorate) make the
            # campaign theirs: the pembina below must not rewrite or publish what reaches other regions.
            campaign.owner_scope = (None if permissions.is_direktorat(actor)
                                    else permissions.pembina_scope(actor))
    before = _snapshot(campaign)
    _assign(campaign, values)
    campaign.updated_at = utcnow()
    db.session.flush()
    changed = {k: v for k, v in _snapshot(campaign).items() if before.get(k) != v}
    if changed:
        _audit(actor, "campaign.update", campaign, before={k: before[k] for k in changed}, after=changed)
    if campaign.status == PUBLISHED:
        _notify(campaign)
    return campaign


def publish_campaign(actor, campaign: Campaign) -> Campaign:
    """Publish a draft: the admins of every targeted KIM get a notice, told in one mail a day."""
    _refuse(actor, permissions.can_manage_campaign(actor, campaign), campaign,
            _l("You may not publish this campaign."))
    if campaign.status != DRAFT:
        raise CampaignError(_l("Only a draft can be published."), status=409)
    if campaign.end_on < clock.today():
        raise CampaignError(_l("Some fields need attention."), fields={
            "end_date": _l("The end date has passed: change it before publishing.")})
    campaign.status = PUBLISHED
    campaign.published_at = campaign.updated_at = utcnow()
    db.session.flush()
    _audit(actor, "campaign.publish", campaign, before={"status": DRAFT}, after={"status": PUBLISHED})
    _notify(campaign)
    return campaign


def close_campaign(actor, campaign: Campaign) -> Campaign:
    """Close a published campaign before its end: no more disseminations are logged for it."""
    _refuse(actor, permissions.can_manage_campaign(actor, campaign), campaign, _l("You may not close this campaign."))
    if campaign.status != PUBLISHED:
        raise CampaignError(_l("Only a published campaign can be closed."), status=409)
    _close(campaign)
    _audit(actor, "campaign.close", campaign, before={"status": PUBLISHED}, after={"status": CLOSED})
    return campaign


def _close(campaign: Campaign) -> None:
    campaign.status = CLOSED
    campaign.closed_at = campaign.updated_at = utcnow()


def close_ended_campaigns(today: date | None = None) -> int:
    """The daily job: store `closed` on published campaigns past their end date (every read already
    shows them closed). Idempotent; each closing is audited as done by the system."""
    today = today or clock.today()
    ended = list(db.session.scalars(select(Campaign).where(Campaign.status == PUBLISHED, Campaign.end_on < today)
                                    .with_for_update(skip_locked=True)))
    for campaign in ended:
        _close(campaign)
        _audit(permissions.SYSTEM, "campaign.close", campaign, before={"status": PUBLISHED},
               after={"status": CLOSED, "reason": "ended"})
    db.session.flush()
    return len(ended)


def add_material(actor, campaign: Campaign, data: bytes, filename: str, title: str | None = None) -> CampaignMaterial:
    """An image (re-encoded, metadata gone, with a thumbnail) or a PDF (judged by its bytes: the
    %PDF signature and end marker; an SVG or HTML renamed .pdf is refused)."""
    _refuse(actor, permissions.can_manage_campaign(actor, campaign), campaign, _l("You may not change this campaign."))
    if campaign.current_status == CLOSED:
        raise CampaignError(_l("This campaign is closed."), status=409)
    if not data:
        raise CampaignError(_l("Some fields need attention."), fields={"file": _l("Choose a file.")})
    # The campaign's row lock serialises uploads to one campaign: the count is read after it, so
    # two concurrent uploads cannot both pass the limit (the collection may be stale by then).
    held = _lock_materials(campaign)
    if held >= MAX_MATERIALS:
        raise CampaignError(_l("Some fields need attention."), fields={
            "file": _l("At most %(n)d materials.", n=MAX_MATERIALS)})
    name = (filename or "").strip()
    label = (title or "").strip() or name.rsplit("/", 1)[-1][:MAX_TITLE] or "-"
    if text_problem(label):
        raise CampaignError(_l("Some fields need attention."), fields={"title": text_problem(label)})
    is_pdf = name.lower().endswith(".pdf") or data[:5] == b"%PDF-"
    limit = PDF_MAX_BYTES if is_pdf else IMAGE_MAX_BYTES
    if len(data) > limit:
        message = _l("The file is larger than %(mb)d MB.", mb=limit // (1024 * 1024))
        raise CampaignError(message, fields={"file": message}, status=413)
    try:
        if is_pdf:
            check_pdf(data, PDF_MAX_BYTES)
            material = CampaignMaterial(kind=PDF, key=save_in_transaction(db.session, data, ".pdf"), size=len(data))
        else:
            check_pixel_budget([image_pixels(data, IMAGE_MAX_BYTES)])
            (full, width, height), (thumb, _, _) = image_variants(data, IMAGE_MAX_BYTES)
            material = CampaignMaterial(kind=IMAGE, key=save_in_transaction(db.session, full, ".webp"),
                                        thumb_key=save_in_transaction(db.session, thumb, ".webp"), size=len(full),
                                        width=width, height=height)
    except UploadError as error:
        raise CampaignError(error.message, fields={"file": error.message}) from None
    material.title = label[:MAX_TITLE]
    material.position = held
    campaign.materials.append(material)
    campaign.updated_at = utcnow()
    db.session.flush()
    _audit(actor, "campaign.material_add", campaign, after={"material": material.id, "kind": material.kind,
                                                            "title": material.title})
    return material


def _lock_materials(campaign: Campaign) -> int:
    """Lock the campaign's row (SELECT … FOR UPDATE) and count its materials as stored now."""
    db.session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    held = db.session.scalar(select(func.count()).select_from(CampaignMaterial)
                             .where(CampaignMaterial.campaign_id == campaign.id))
    if held != len(campaign.materials):  # another upload committed since the collection was loaded
        db.session.expire(campaign, ["materials"])
    return held


def remove_material(actor, campaign: Campaign, material_id: int) -> None:
    _refuse(actor, permissions.can_manage_campaign(actor, campaign), campaign, _l("You may not change this campaign."))
    material = next((m for m in campaign.materials if m.id == material_id), None)
    if material is None:
        raise CampaignError(_l("No such material."), status=404)
    delete_after_commit(db.session, material.key)
    delete_after_commit(db.session, material.thumb_key)
    campaign.materials.remove(material)
    _audit(actor, "campaign.material_remove", campaign, before={"material": material_id, "title": material.title})


# --- notices and the daily digest ----------------------------------------------------------------

def _notify(campaign: Campaign) -> None:
    """A notice for each admin of a targeted KIM (once per campaign), then today's digest for those
    who have had none today (queued after the response inside a request)."""
    from kim_platform.campaigns.queries import notice_recipients

    users = notice_recipients(campaign)
    if users:
        db.session.execute(insert(CampaignNotice).values([{"campaign_id": campaign.id, "user_id": uid}
                                                          for uid in users])
                           .on_conflict_do_nothing(constraint="uq_campaign_notice_campaign_user"))
        send_digests(user_ids=users)


def send_digests(day: date | None = None, user_ids=None, send=None) -> int:
    """One mail per person per day telling every campaign noticed to them and not told yet.

    Idempotent: a person already sent today's digest waits for tomorrow's; the claim of the day is
    an INSERT … ON CONFLICT DO NOTHING on (user, day), so concurrent senders never send it twice.
    `send(to, subject, body)` defaults to the mail queue (after the response in a request)."""
    from kim_platform.accounts.mails import send_quietly
    from kim_platform.campaigns import mails
    from kim_platform.campaigns.queries import pending_notices

    day = day or clock.today()
    send = send or send_quietly
    pending = pending_notices(user_ids)
    if not pending:
        return 0
    # Set-based, whatever the number of people: one claim of the day for all, one update of notices.
    claimed = set(db.session.scalars(
        insert(CampaignDigest).values([{"user_id": user.id, "day": day, "notices": len(campaigns)}
                                       for user, campaigns in pending])
        .on_conflict_do_nothing().returning(CampaignDigest.user_id)))
    told = [(user.id, c.id) for user, campaigns in pending if user.id in claimed for c in campaigns]
    if told:
        db.session.execute(update(CampaignNotice).where(
            CampaignNotice.sent_on.is_(None),
            tuple_(CampaignNotice.user_id, CampaignNotice.campaign_id).in_(told)).values(sent_on=day))
    sent = 0
    for user, campaigns in pending:
        if user.id in claimed:
            send(user.email, *mails.digest(user, campaigns))
            sent += 1
    return sent


# --- disseminations: a report linked to its campaign (slots of activities) -----------------------

def _campaign_id(value):
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 1 <= number < 2**63 else None


def dissemination_errors(actor, kim, raw: dict) -> dict | None:
    """The field errors of a new report's `campaign_id` and `channel` (slot activity_report.check):
    the campaign must be published and open, target the KIM's region and bidang; the report is of
    type diseminasi. None when no campaign is given."""
    given = raw.get("campaign_id")
    if given in (None, ""):
        return {"channel": _l("A channel is given only for a campaign.")} if raw.get("channel") not in (None, "") \
            else None
    from kim_platform.campaigns.queries import campaign_targets_kim

    errors: dict = {}
    campaign = db.session.get(Campaign, _campaign_id(given)) if _campaign_id(given) else None
    if campaign is None or not permissions.campaign_visible(actor, campaign):
        errors["campaign_id"] = _l("No such campaign.")
    elif campaign.current_status != PUBLISHED:
        errors["campaign_id"] = (_l("This campaign is closed: disseminations are no longer logged for it.")
                                 if campaign.current_status == CLOSED else _l("This campaign is not published."))
    elif campaign.start_on > clock.today():
        errors["campaign_id"] = _l("This campaign starts on %(date)s: disseminations are logged from then on.",
                                   date=campaign.start_on.isoformat())
    elif not campaign_targets_kim(campaign, kim):
        errors["campaign_id"] = _l("This campaign is not meant for %(name)s: it targets other regions or bidang.",
                                   name=kim.name)
    channel = raw.get("channel")
    if channel in (None, ""):
        errors["channel"] = _l("Choose the channel.")
    elif channel not in CHANNELS:
        errors["channel"] = _l("Choose one of: %(channels)s.", channels=", ".join(CHANNELS))
    if raw.get("type") not in (None, "", DISSEMINATION_TYPE):
        errors["type"] = _l("A dissemination of a campaign is reported with the type Diseminasi.")
    return errors


def link_dissemination(actor, kim, activity, raw: dict) -> Dissemination | None:
    """Store the link of a just-created report to its campaign (slot activity_report.created),
    after dissemination_errors passed in the same call of create_activity."""
    if raw.get("campaign_id") in (None, ""):
        return None
    if not permissions.can_log_dissemination(actor, kim):  # create_activity refused it already
        raise CampaignError(_l("Only members of this KIM report its activities."), status=403)
    link = Dissemination(activity_id=activity.id, campaign_id=_campaign_id(raw["campaign_id"]),
                         channel=raw["channel"])
    db.session.add(link)
    db.session.flush()
    record(actor, "campaign.dissemination", "activity", activity.id, scope_code=activity.desa_code,
           after={"campaign": link.campaign_id, "channel": link.channel})
    return link


# --- share links (/p/<code>) and their counted visits ---------------------------------------------

# Link-preview fetchers that open a link when it is pasted into a chat (not a person reading it),
# and the search engines' crawlers: their requests still redirect but are never counted.
LINK_PREVIEW_RE = re.compile(r"whatsapp|facebookexternalhit|facebot|twitterbot|telegrambot|slackbot|discordbot"
                             r"|linkedinbot|skypeuripreview|googlebot|bingbot|applebot", re.IGNORECASE)
SHARE_CODE_RE = re.compile(rf"^[{SHARE_CODE_ALPHABET}]{{{SHARE_CODE_LENGTH}}}$")
SHARE_CODE_ATTEMPTS = 5


def _new_share_code() -> str:
    return "".join(secrets.choice(SHARE_CODE_ALPHABET) for _ in range(SHARE_CODE_LENGTH))


def create_share_link(actor, campaign: Campaign, kim) -> tuple[CampaignShareLink, bool]:
    """The KIM's share link of the campaign, created on the first request of one of its members:
    (link, created). Idempotent: the same KIM always gets the same code, also under concurrent
    first requests (INSERT … ON CONFLICT DO NOTHING on the (campaign, KIM) pair and on the code).

    Refused: a campaign or KIM the actor may not see (404), an actor who is not a member (403), a
    KIM the campaign does not target or that is not verified (403); a draft or closed campaign gets
    no new link (409), while a link it already has is still returned."""
    from kim_platform.campaigns.queries import campaign_targets_kim, share_link

    if not permissions.campaign_visible(actor, campaign):
        raise CampaignError(_l("No such campaign."), status=404)
    if kim is None or not permissions.kim_visible(actor, kim):
        raise CampaignError(_l("No such KIM."), status=404)
    if not permissions.can_share_campaign(actor, kim):
        raise CampaignError(_l("Only members of %(name)s get its share link.", name=kim.name), status=403)
    if not campaign_targets_kim(campaign, kim):
        raise CampaignError(_l("This campaign is not meant for %(name)s: it targets other regions or bidang.",
                               name=kim.name), status=403)
    existing = share_link(campaign.id, kim.id)
    if existing is not None:
        return existing, False
    if kim.status != KimStatus.VERIFIED:
        raise CampaignError(_l("Only a verified KIM gets a share link."), status=403)
    if campaign.current_status != PUBLISHED:
        raise CampaignError(_l("This campaign is closed: no new share links are made for it.")
                            if campaign.current_status == CLOSED else _l("This campaign is not published yet."),
                            status=409)
    for _ in range(SHARE_CODE_ATTEMPTS):
        new_id = db.session.scalar(
            insert(CampaignShareLink).values(campaign_id=campaign.id, kim_id=kim.id, code=_new_share_code(),
                                             created_by_id=actor.id)
            .on_conflict_do_nothing().returning(CampaignShareLink.id))
        if new_id is not None:
            link = db.session.get(CampaignShareLink, new_id)
            record(actor, "campaign.share_link", "campaign", campaign.id, scope_code=kim.desa_code,
                   after={"kim": kim.id, "code": link.code})
            return link, True
        existing = share_link(campaign.id, kim.id)  # a concurrent first request made it
        if existing is not None:
            return existing, False
    raise CampaignError(_l("No share link could be made just now. Please try again."), status=409)


def is_link_preview(user_agent: str | None) -> bool:
    """A chat app's link preview or a crawler, by its User-Agent (see LINK_PREVIEW_RE)."""
    return bool(user_agent) and LINK_PREVIEW_RE.search(user_agent) is not None


def _visitor_hash(day: date, link_id: int, address: str, user_agent: str) -> bytes:
    """A keyed hash of the visitor for one link and one day. The day's salt is derived from the
    SECRET_KEY and the day, so no salt is stored; the hashes themselves go once the day is over."""
    from flask import current_app

    salt = hmac.new(current_app.config["SECRET_KEY"].encode(), b"campaign-share-visit:" + day.isoformat().encode(),
                    hashlib.sha256).digest()
    return hmac.new(salt, f"{link_id}\n{address}\n{user_agent}".encode(), hashlib.sha256).digest()[:16]


_COUNT_VISIT = text("""
    WITH swept AS (
        DELETE FROM campaign_share_visit WHERE link_id = :link AND day < :day
    ), new_visitor AS (
        INSERT INTO campaign_share_visit (link_id, day, visitor) VALUES (:link, :day, :visitor)
        ON CONFLICT DO NOTHING RETURNING 1
    )
    UPDATE campaign_share_link
    SET visits = visits + 1, visitors = visitors + (SELECT count(*) FROM new_visitor)
    WHERE id = :link
""")


def count_share_visit(code: str, address: str | None, user_agent: str | None, method: str = "GET") -> int | None:
    """The campaign a share link leads to, counting the visit for its KIM; None for an unknown
    code or a campaign that is not public (a draft): the caller answers 404 alike.

    Counted: a GET by a browser. Not counted: HEAD requests and the link-preview fetchers of chat
    apps and crawlers (WhatsApp, facebookexternalhit, Twitterbot, TelegramBot, …: LINK_PREVIEW_RE),
    which open a link when it is pasted, not when someone reads it. A closed campaign's link still
    leads to it and counts. `visits` grows by one per counted request; `visitors` by one per
    visitor per day (a salted hash of address and browser, kept for the day only): one statement,
    which also deletes the link's hashes of past days."""
    from kim_platform.campaigns.queries import share_link_target

    code = (code or "").strip().lower()
    if not SHARE_CODE_RE.match(code):
        return None
    target = share_link_target(code)
    if target is None or target.status not in PUBLIC_STATUSES:
        return None
    if method.upper() != "GET" or is_link_preview(user_agent):
        return target.campaign_id
    day = clock.today()
    db.session.execute(_COUNT_VISIT, {"link": target.link_id, "day": day,
                                      "visitor": _visitor_hash(day, target.link_id, address or "", user_agent or "")})
    return target.campaign_id


def sweep_share_visits(today: date | None = None) -> int:
    """The daily job: delete every visitor hash of the days before today (no resident's trace is
    kept past its day). Idempotent; the counters on the links stay."""
    today = today or clock.today()
    result = db.session.execute(delete(CampaignShareVisit).where(CampaignShareVisit.day < today))
    return result.rowcount or 0
