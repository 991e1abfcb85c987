"""Writing activity reports: validation, Markdown, photos, publishing and moderation.

Pages, the API and the demo generator come through here; operations flush, the request or CLI
edge commits (core/transaction.py).
A report whose photos fail leaves nothing behind: files are tied to the transaction.
"""
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import nh3
from flask import current_app
from flask_babel import lazy_gettext as _l
from markdown_it import MarkdownIt
from sqlalchemy import func, select, true

from kim_platform import permissions
from kim_platform.activities.models import Activity, ActivityStatus, ActivityType, PendingAction, PendingPhoto, Photo
from kim_platform.activities.slots import REPORT_CHECK, REPORT_CREATED
from kim_platform.audit.services import record
from kim_platform.core import clock, idempotency, queue
from kim_platform.core.clock import utcnow
from kim_platform.core.domain import DomainError
from kim_platform.core.images import (ORIGINAL_SUFFIXES, UploadError, check_pixel_budget, image_header, image_pixels,
                                      image_variants)
from kim_platform.core.storage import delete_after_commit, save_in_transaction, storage
from kim_platform.core.text import forbidden_character, text_problem
from kim_platform.extensions import db
from kim_platform.kims.services import authorise, check_daily_cap
from kim_platform.regions.codes import is_valid_code, kabupaten_of, level_of, province_of
from kim_platform.regions.models import Region
from kim_platform.regions.places import PlaceError, check_location, clean_place_input

MAX_PHOTOS = 6
PHOTO_MAX_BYTES = 15 * 1024 * 1024
MAX_DESCRIPTION = 20_000
MAX_LINKS = 10
MAX_TAGS = 10
MAX_REACH = 100_000_000
FIELDS = ("title", "date", "type", "description", "desa_code", "lat", "lon", "reach_offline", "reach_online",
          "links", "tags", "late_reason")

log = logging.getLogger(__name__)
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
ALLOWED_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "code", "pre", "h3", "h4", "hr"}


class ActivityError(DomainError):
    """A report operation refused (the activities' own error; callers catch `DomainError`)."""


def render_markdown(text: str) -> str:
    """Markdown to HTML, then sanitised: no raw HTML, only http(s)/mailto links, rel=nofollow."""
    html = _markdown.render(text or "")
    # Headings are demoted so a report never competes with the page's own h1/h2.
    html = re.sub(r"<(/?)h[12]>", r"<\1h3>", html)
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="nofollow noopener noreferrer ugc")


def known_types() -> dict[str, ActivityType]:
    return {t.slug: t for t in db.session.scalars(select(ActivityType))}


def _http_url(value) -> str:
    if not isinstance(value, str) or len(value) > 500:
        raise ValueError
    url = value.strip()
    if forbidden_character(url):
        raise ValueError
    if not re.match(r"^https?://", url, re.I):
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or "." not in (parts.hostname or "") or parts.username:
        raise ValueError
    return url


def _int(value, field: str, errors: dict) -> int:
    if value in (None, ""):
        return 0
    try:
        number = int(str(value).strip().replace(".", "").replace(",", "")) if not isinstance(value, int) else value
    except ValueError:
        errors[field] = _l("Enter a whole number.")
        return 0
    if isinstance(value, bool) or number < 0 or number > MAX_REACH:
        errors[field] = _l("Enter a number from 0 to 100,000,000.")
        return 0
    return number


def _could_be_slug(value) -> bool:
    """What may be looked up as an activity type: a NUL or a lone surrogate would not even
    reach the database, and no slug is longer than 40."""
    return isinstance(value, str) and len(value) <= 40 and value.isascii() and value.isprintable()


def _load_references(kim, raw: dict) -> list:
    """The activity type and the desa a new report names (with the desa's kabupaten/kota when it
    has a point to check) in one statement: the checks that follow ask the session for them by
    key (clean_activity_input, _check_place, regions.places.check_location) and find them loaded
    instead of reading one row each. Nothing is loaded when any of them is not there: the checks
    then look for themselves and name what is missing.

    The caller keeps the returned rows until the checks are done: the session's identity map
    holds objects weakly, so unreferenced ones would be gone before they are asked for."""
    slug, desa = raw.get("type"), raw.get("desa_code") or kim.desa_code
    if not _could_be_slug(slug) or not isinstance(desa, str) or not is_valid_code(desa) \
            or level_of(desa) != "desa":
        return []
    codes = [desa, kabupaten_of(desa)] if raw.get("lat") not in (None, "") else [desa]
    return db.session.execute(select(ActivityType, Region).join(Region, true())
                              .where(ActivityType.slug == slug, Region.code.in_(codes))).all()


def clean_activity_input(raw: dict, partial: bool = False) -> dict:
    """Validate a report's fields (from a form or JSON); ActivityError names every bad field."""
    errors: dict = {}
    clean: dict = {}
    present = {key for key in FIELDS if key in raw}
    if not partial:
        for key in ("title", "date", "type"):
            if raw.get(key) in (None, "", []):
                errors[key] = _l("This field is required.")

    if "title" in present and "title" not in errors:
        title = raw.get("title")
        title = title.strip() if isinstance(title, str) else ""
        if not title:
            errors["title"] = _l("This field is required.")
        elif text_problem(title):
            errors["title"] = text_problem(title)
        elif len(title) > 150:
            errors["title"] = _l("At most %(n)d characters.", n=150)
        else:
            clean["title"] = title

    if "description" in present:
        text = raw.get("description") or ""
        if not isinstance(text, str):
            errors["description"] = _l("Must be text.")
        elif text_problem(text, multiline=True):
            errors["description"] = text_problem(text, multiline=True)
        elif len(text) > MAX_DESCRIPTION:
            errors["description"] = _l("At most %(n)d characters.", n=MAX_DESCRIPTION)
        else:
            clean["description_md"] = text.strip()

    if "type" in present and "type" not in errors:
        # One row by its key, not every type as ORM objects; what cannot be a slug (too long, not
        # printable ASCII: a NUL or a lone surrogate would not even reach the database) is none.
        slug = raw.get("type")
        if not _could_be_slug(slug) or db.session.get(ActivityType, slug) is None:
            errors["type"] = _l("Choose a type from the list.")
        else:
            clean["type"] = raw["type"]

    if "late_reason" in present:
        reason = raw.get("late_reason")
        if text_problem(reason, multiline=True):
            errors["late_reason"] = text_problem(reason, multiline=True)
        clean["late_reason"] = reason.strip()[:300] if isinstance(reason, str) and reason.strip() else None

    if "date" in present and "date" not in errors:
        value = raw.get("date")
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value).strip())
        except ValueError:
            errors["date"] = _l("Use the date format YYYY-MM-DD.")
        else:
            if day > clock.latest_today():
                errors["date"] = _l("The date cannot be in the future.")
            elif day < clock.today() - timedelta(days=365) and not clean.get("late_reason"):
                errors["late_reason"] = _l("Reports older than one year need a reason.")
            else:
                clean["activity_date"] = day

    clean_place_input(raw, present, errors, clean, desa_required=False)
    if ("lat" in clean) != ("lon" in clean) or (clean.get("lat") is None) != (clean.get("lon") is None):
        if "lat" not in errors and "lon" not in errors:
            errors["lat"] = _l("Give both latitude and longitude, or neither.")

    for key in ("reach_offline", "reach_online"):
        if key in present:
            clean[key] = _int(raw.get(key), key, errors)

    if "links" in present:
        links = raw.get("links") or []
        if isinstance(links, str):
            links = [line for line in links.splitlines() if line.strip()]
        if not isinstance(links, list) or len(links) > MAX_LINKS:
            errors["links"] = _l("At most %(n)d links.", n=MAX_LINKS)
        else:
            try:
                clean["links"] = [_http_url(link) for link in links if str(link).strip()]
            except ValueError:
                errors["links"] = _l("Each link must be a web address (https://…).")

    if "tags" in present:
        tags = raw.get("tags") or []
        if isinstance(tags, str):
            tags = [t for t in re.split(r"[,\n]", tags)]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            errors["tags"] = _l("Give tags as words separated by commas.")
        elif any(forbidden_character(t.strip()) for t in tags):
            errors["tags"] = next(text_problem(t.strip()) for t in tags if forbidden_character(t.strip()))
        else:
            tags = list(dict.fromkeys(t.strip().lstrip("#")[:40] for t in tags if t.strip()))
            if len(tags) > MAX_TAGS:
                errors["tags"] = _l("At most %(n)d tags.", n=MAX_TAGS)
            else:
                clean["tags"] = tags
    if errors:
        raise ActivityError(_l("Some fields need attention."), fields=errors)
    return clean


def _clean_new_report(actor, kim, raw: dict) -> dict:
    """The report's own fields and those the domains above read (activity_report.check), judged
    together: one refusal names every bad field, before anything is written."""
    extra: dict = {}
    for found in REPORT_CHECK.collect(actor=actor, kim=kim, raw=raw):
        extra.update(found)
    try:
        values = clean_activity_input(raw)
    except ActivityError as error:
        raise ActivityError(error.message, fields={**error.fields, **extra}) from None
    if extra:
        raise ActivityError(_l("Some fields need attention."), fields=extra)
    return values


def _check_place(values: dict, kim) -> None:
    """A report takes place in its KIM's own province (it lands in that province's feeds, figures
    and moderation), in a real desa, with its point inside the desa's kabupaten/kota."""
    desa_code = values.get("desa_code") or kim.desa_code
    province_code = province_of(kim.desa_code)
    if not permissions.code_within(desa_code, province_code):
        province = db.session.get(Region, province_code)
        raise ActivityError(_l("Some fields need attention."), fields={"desa_code": _l(
            "Choose a desa/kelurahan in %(province)s: a KIM reports activities in its own province.",
            province=province.title if province else province_code)})
    lat, lon = values.get("lat"), values.get("lon")
    if lat is not None:
        try:
            check_location(desa_code, lat, lon)
        except PlaceError as error:
            raise ActivityError(error.message, fields=error.fields) from None
    elif "desa_code" in values:
        region = db.session.get(Region, desa_code)
        if region is None or region.level != "desa":
            raise ActivityError(_l("Some fields need attention."), fields={"desa_code": _l("No desa/kelurahan has this code.")})


def _photo_error(n: int, error: UploadError) -> ActivityError:
    return ActivityError(error.message, fields={"photos": _l("Photo %(n)d: %(problem)s", n=n, problem=error.message)})


def check_photos(uploads: list[bytes]) -> list[int]:
    """Every photo of the request judged from its header, before any is decoded: count, size,
    format, pixels each and pixels together. Returns the pixel count of each."""
    if len(uploads) > MAX_PHOTOS:
        raise ActivityError(_l("Some fields need attention."), fields={"photos": _l("At most %(n)d photos.", n=MAX_PHOTOS)})
    pixels = []
    for offset, data in enumerate(uploads):
        try:
            pixels.append(image_pixels(data, PHOTO_MAX_BYTES))
        except UploadError as error:
            raise _photo_error(offset + 1, error) from None
    try:
        check_pixel_budget(pixels)
    except UploadError as error:
        raise ActivityError(error.message, fields={"photos": error.message}) from None
    return pixels


def _in_background(data: bytes) -> str | None:
    """The suffix to keep `data` under for the job worker to re-encode, or None to re-encode it
    now: only with the job queue, above KIM_PHOTO_BACKGROUND_BYTES, and in a format kept as is."""
    if not queue.enabled() or len(data) <= current_app.config["PHOTO_BACKGROUND_BYTES"]:
        return None
    return ORIGINAL_SUFFIXES.get(image_header(data, PHOTO_MAX_BYTES)[0])


def _store_photos(activity: Activity, uploads: list[bytes], pixels: list[int], start: int = 0) -> None:
    """Decode and store photos already passed by check_photos. The smallest are decoded first:
    a damaged small file is found before a large one has cost its CPU.

    With the job queue, a large upload is stored as received (a private original, already checked
    for type, size and pixels) and a job re-encodes it: the report is acknowledged at once and
    shows the photo when the job is done (`reencode_pending_photo`)."""
    variants, later = {}, {}
    for offset in sorted(range(len(uploads)), key=lambda i: pixels[i]):
        suffix = _in_background(uploads[offset])
        if suffix:
            later[offset] = suffix
            continue
        try:
            variants[offset] = image_variants(uploads[offset], PHOTO_MAX_BYTES)
        except UploadError as error:
            raise _photo_error(offset + 1, error) from None
    for offset in range(len(uploads)):
        if offset in later:
            _keep_for_worker(activity, uploads[offset], later[offset], start + offset)
            continue
        (full, width, height), (thumb, _, _) = variants[offset]
        activity.photos.append(Photo(
            key=save_in_transaction(db.session, full, ".webp"),
            thumb_key=save_in_transaction(db.session, thumb, ".webp"),
            width=width, height=height, position=start + offset,
        ))


def _keep_for_worker(activity: Activity, data: bytes, suffix: str, position: int, client_key: str | None = None):
    """A large upload, already checked, kept as received (a private original) for the photo job."""
    pending = PendingPhoto(original_key=save_in_transaction(db.session, data, suffix), position=position,
                           client_key=client_key)
    activity.processing_photos.append(pending)
    db.session.flush()
    queue.enqueue(PHOTO_JOB, {"pending_id": pending.id}, dedup_key=f"{PHOTO_JOB}:{pending.id}")


PHOTO_JOB = "activities.photo"


def reencode_pending_photo(payload: dict) -> None:
    """The job of a large upload: its photo and thumbnail made and stored, the Photo row added and
    the original deleted after the commit, all in the job's transaction (core/queue.py): a worker
    killed halfway leaves the pending photo as it was, and only orphan files for the sweep.

    A file that fails only when decoded (a truncated body: its header passed) cannot be shown; it is
    dropped, as the report was already acknowledged, and the log says so."""
    pending = db.session.get(PendingPhoto, payload["pending_id"], with_for_update=True)
    if pending is None:  # the report (or the photo) was deleted meanwhile
        return
    activity = db.session.get(Activity, pending.activity_id)
    try:
        (full, width, height), (thumb, _, _) = image_variants(storage().read(pending.original_key), PHOTO_MAX_BYTES)
    except UploadError as error:
        log.warning("report %s: photo %s dropped, it cannot be decoded: %s", pending.activity_id, pending.position,
                    error.message)
    else:
        activity.photos.append(Photo(
            key=save_in_transaction(db.session, full, ".webp"), thumb_key=save_in_transaction(db.session, thumb, ".webp"),
            width=width, height=height, position=pending.position, client_key=pending.client_key))
    if pending.client_key is not None:  # sent one by one: received already, now stored (or dropped)
        # In SQL: a photo PUT of the same report may change the count meanwhile (it locks the row).
        activity.photos_with_worker = func.greatest(Activity.photos_with_worker - 1, 0)
    activity.updated_at = utcnow()  # pages and caches that follow updated_at see the photo arrive
    delete_after_commit(db.session, pending.original_key)
    db.session.delete(pending)
    db.session.flush()


def refresh_last_activity(kim) -> None:
    """Keep kim.last_activity_on equal to the date of its latest published report."""
    from sqlalchemy import func

    db.session.flush()
    kim.last_activity_on = db.session.scalar(
        select(func.max(Activity.activity_date)).where(Activity.kim_id == kim.id,
                                                       Activity.status == ActivityStatus.PUBLISHED))


def _note_published(kim, day: date) -> None:
    """A report of `day` was just published: the KIM's latest date moves up to it, if later.

    Same figure as refresh_last_activity (the max over published reports grows by exactly this
    date) without reading the KIM's reports again; written as GREATEST in the UPDATE itself, so
    a concurrent post of a later date is never overwritten with an earlier one. No UPDATE (and no
    coverage trigger) when the date is not later than the one already stored."""
    from kim_platform.kims.models import Kim

    if kim.last_activity_on is None or day > kim.last_activity_on:
        kim.last_activity_on = func.greatest(Kim.last_activity_on, day)  # NULLs are ignored
        db.session.flush()  # whoever reads it next reads the date, not the expression


def _snapshot(activity: Activity) -> dict:
    return {"title": activity.title, "date": activity.activity_date.isoformat() if activity.activity_date else None,
            "type": activity.type, "desa_code": activity.desa_code, "status": activity.status,
            "reach_offline": activity.reach_offline, "reach_online": activity.reach_online,
            "links": list(activity.links or []), "tags": list(activity.tags or []),
            "photos": len(activity.photos)}


def _audit(actor, action: str, activity: Activity, before=None, after=None) -> None:
    record(actor, action, "activity", activity.id, scope_code=activity.desa_code, before=before, after=after)


def _check_daily_cap(actor) -> None:
    from sqlalchemy import func

    check_daily_cap(
        actor, "MAX_REPORTS_PER_DAY",
        lambda since: select(func.count()).select_from(Activity).where(
            Activity.author_id == actor.id, Activity.created_at >= since),
        lambda cap: _l("You have sent %(n)d reports in the last 24 hours, the most allowed. Please continue "
                       "tomorrow.", n=cap), error=ActivityError)


def _authorise(actor, allowed: bool, activity: Activity, message) -> None:
    """Refuse a write on a report: 404 when the actor may not see it (as its routes answer), else 403."""
    status = permissions.refusal(allowed, visible=permissions.can_view_activity(actor, activity))
    if status == 404:
        raise ActivityError(_l("No such report."), status=404)
    if status:
        raise ActivityError(message, status=status)


def create_activity(actor, kim, raw: dict, photos: list[bytes] = (), publish: bool = True, *,
                    written_at: datetime | None = None, photo_count: int = 0, key: str | None = None,
                    fingerprint: str | None = None) -> Activity:
    """A report of `kim` by a person who may report for it (its members, the directorate).

    With `photo_count` > 0 (the offline app, via submit_report) it waits for its photos, sent one
    by one, as a draft; publishing (or not) is carried out when the last one is stored."""
    authorise(actor, permissions.can_write_report(actor, kim), kim,
              _l("Only members of this KIM report its activities."), error=ActivityError)
    _check_daily_cap(actor)
    photos = list(photos)
    action = PendingAction.PUBLISH if publish else PendingAction.DRAFT
    pixels = check_photos(photos)
    references = _load_references(kim, raw)
    values = _clean_new_report(actor, kim, raw)
    _check_place(values, kim)
    del references  # found by key by the checks above
    lat, lon = values.pop("lat", None), values.pop("lon", None)
    values.setdefault("desa_code", kim.desa_code)
    description = values.pop("description_md", "")
    now = utcnow()
    publish = action == PendingAction.PUBLISH and not photo_count
    activity = Activity(
        kim_id=kim.id, kim=kim, author_id=actor.id, **values, description_md=description,
        description_html=render_markdown(description),
        point=f"SRID=4326;POINT({lon} {lat})" if lat is not None else None,
        status=ActivityStatus.PUBLISHED if publish else ActivityStatus.DRAFT, published_at=now if publish else None,
        idempotency_key=key, request_hash=fingerprint, written_at=written_at, photos_expected=photo_count,
        pending_action=action if photo_count else None, photos=[],
    )
    db.session.add(activity)
    _store_photos(activity, photos, pixels)
    db.session.flush()
    if publish:
        _note_published(kim, activity.activity_date)
    _audit(actor, "activity.create", activity, after=_snapshot(activity))
    for link in REPORT_CREATED.entries():  # a campaign's dissemination, in this transaction
        link.func(actor=actor, kim=kim, activity=activity, raw=raw)
    return activity


def update_activity(actor, activity: Activity, raw: dict, new_photos: list[bytes] = (),
                    remove_photo_ids: list[int] = ()) -> Activity:
    _authorise(actor, permissions.can_edit_activity(actor, activity), activity, _l("You may not edit this report."))
    new_photos = list(new_photos)
    pixels = check_photos(new_photos)
    values = clean_activity_input(raw, partial=True)
    before = _snapshot(activity)
    _check_place(values, activity.kim)
    if "lat" in values:
        lat, lon = values.pop("lat"), values.pop("lon")
        activity.point = f"SRID=4326;POINT({lon} {lat})" if lat is not None else None
    if "description_md" in values:
        activity.description_md = values.pop("description_md")
        activity.description_html = render_markdown(activity.description_md)
    for key, value in values.items():
        setattr(activity, key, value)
    for photo in [p for p in activity.photos if p.id in set(remove_photo_ids)]:
        delete_after_commit(db.session, photo.key)
        delete_after_commit(db.session, photo.thumb_key)
        activity.photos.remove(photo)
    # Those still with the worker count too (none without the job queue: no query then).
    held = [*activity.photos, *(activity.processing_photos if queue.enabled() else ())]
    if len(held) + len(new_photos) > MAX_PHOTOS:
        raise ActivityError(_l("Some fields need attention."), fields={"photos": _l("At most %(n)d photos.", n=MAX_PHOTOS)})
    _store_photos(activity, new_photos, pixels, start=max((p.position + 1 for p in held), default=0))
    activity.updated_at = utcnow()
    refresh_last_activity(activity.kim)
    changed = {k: v for k, v in _snapshot(activity).items() if before.get(k) != v}
    if changed:
        _audit(actor, "activity.update", activity, before={k: before[k] for k in changed}, after=changed)
    return activity


def publish_activity(actor, activity: Activity) -> None:
    _authorise(actor, permissions.can_edit_activity(actor, activity), activity, _l("You may not edit this report."))
    if activity.status != ActivityStatus.DRAFT:
        raise ActivityError(_l("Only a draft can be published."), status=409)
    # Publishing by hand a report still waiting for photos publishes it with those it has: the
    # author gave up on the rest (a lost phone must not keep the report unpublished for ever).
    activity.pending_action = None
    activity.status = ActivityStatus.PUBLISHED
    activity.published_at = utcnow()
    activity.updated_at = utcnow()
    refresh_last_activity(activity.kim)
    _audit(actor, "activity.publish", activity, before={"status": ActivityStatus.DRAFT},
           after={"status": ActivityStatus.PUBLISHED})


def finish_edit(actor, activity: Activity, action: str) -> None:
    """After an edit (page or API), the action asked for: publish a draft, or ask for a review of a hidden report."""
    if action == PendingAction.PUBLISH and activity.status == ActivityStatus.DRAFT:
        publish_activity(actor, activity)
    elif action == PendingAction.REVIEW and activity.status == ActivityStatus.HIDDEN:
        request_review(actor, activity)


def delete_activity(actor, activity: Activity) -> None:
    """Delete the report; its photo files go once the deletion commits."""
    _authorise(actor, permissions.can_edit_activity(actor, activity), activity, _l("You may not delete this report."))
    for photo in activity.photos:
        delete_after_commit(db.session, photo.key)
        delete_after_commit(db.session, photo.thumb_key)
    if queue.enabled():  # originals still waiting for the worker (none without the queue: no query)
        for pending in activity.processing_photos:
            delete_after_commit(db.session, pending.original_key)
    _audit(actor, "activity.delete", activity, before=_snapshot(activity))
    kim = activity.kim
    db.session.delete(activity)
    refresh_last_activity(kim)


def hide_activity(actor, activity: Activity, reason: str) -> None:
    _authorise(actor, permissions.can_moderate_activity(actor, activity), activity,
               _l("You may not moderate this report."))
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ActivityError(_l("Give the reason for hiding."), fields={"reason": _l("Give a reason.")})
    if text_problem(reason, multiline=True):
        raise ActivityError(_l("Some fields need attention."), fields={"reason": text_problem(reason, multiline=True)})
    if activity.status == ActivityStatus.HIDDEN:
        raise ActivityError(_l("This report is hidden already."), status=409)
    before = activity.status
    activity.status = ActivityStatus.HIDDEN
    activity.hidden_reason = reason[:2000]
    activity.review_requested_at = None
    activity.updated_at = utcnow()
    refresh_last_activity(activity.kim)
    _audit(actor, "activity.hide", activity, before={"status": before},
           after={"status": ActivityStatus.HIDDEN, "reason": reason})


def unhide_activity(actor, activity: Activity) -> None:
    _authorise(actor, permissions.can_moderate_activity(actor, activity), activity,
               _l("You may not moderate this report."))
    if activity.status != ActivityStatus.HIDDEN:
        raise ActivityError(_l("This report is not hidden."), status=409)
    if activity.pending_action is not None:  # hidden while waiting for its photos: it waits again
        activity.status = ActivityStatus.DRAFT
    else:
        activity.status = ActivityStatus.PUBLISHED
        activity.published_at = activity.published_at or utcnow()
    activity.review_requested_at = None
    activity.updated_at = utcnow()
    refresh_last_activity(activity.kim)
    _audit(actor, "activity.unhide", activity,
           before={"status": ActivityStatus.HIDDEN, "reason": activity.hidden_reason},
           after={"status": activity.status})
    activity.hidden_reason = None


def request_review(actor, activity: Activity) -> None:
    """After editing a hidden report, its KIM asks the pembina to look again."""
    _authorise(actor, permissions.can_edit_activity(actor, activity), activity, _l("You may not edit this report."))
    if activity.status != ActivityStatus.HIDDEN:
        raise ActivityError(_l("This report is not hidden."), status=409)
    activity.review_requested_at = utcnow()
    _audit(actor, "activity.review_request", activity)


# --- offline reports, exactly once (issue #16) --------------------------------------------------
# The offline app sends a report with an Idempotency-Key (the client's UUID) and, when it has
# photos, only the number of photos that follow; each photo then comes on its own
# (store_report_photo) with its own key. A replay answers the same report; the same key with
# another body answers 409; concurrent replays wait on one advisory lock per (author, key) and
# the unique constraint (author_id, idempotency_key) decides any race left (core/idempotency.py).


@dataclass
class Receipt:
    """What a report or photo submission ended with: the report, and whether it was a replay."""
    activity: Activity
    replayed: bool = False


def request_fingerprint(kim_id: int, raw: dict, action: str, written_at, photo_count, photos=()) -> str:
    """The canonical hash of a report's parsed input: what "the same body" means for a replay."""
    return idempotency.fingerprint(kim_id, raw, written_at, photo_count, photos, action=action)


def clean_delivery(written_at, photo_count, errors: dict) -> tuple[datetime | None, int]:
    """The device time (ISO 8601 with its offset, in UTC; None when implausible) and the number of
    photos to follow (0..6)."""
    return idempotency.device_time(written_at, errors), idempotency.photo_count(photo_count, MAX_PHOTOS, errors)


def submit_report(actor, kim, raw: dict, photos: list[bytes] = (), action: str = PendingAction.PUBLISH, written_at=None,
                  photo_count=None, key: str | None = None) -> Receipt:
    """A report from the API, sent at most once per Idempotency-Key `key` (see above).

    A replay with the same parsed body answers the stored report as it is now; another body
    under the same key is refused with 409. A refused request stores nothing, so its key stays free."""
    authorise(actor, permissions.can_write_report(actor, kim), kim,
              _l("Only members of this KIM report its activities."))
    photos = list(photos)
    fingerprint = None
    if key is not None:
        idempotency.check_key(key, ActivityError)
        fingerprint = request_fingerprint(kim.id, raw, action, written_at, photo_count, photos)
        idempotency.lock("activity", actor.id, key)
        earlier = idempotency.replay(Activity, actor.id, key, fingerprint,
                                     _l("This Idempotency-Key was used for another report."), ActivityError)
        if earlier is not None:
            return Receipt(earlier, replayed=True)
    errors: dict = {}
    when, count = clean_delivery(written_at, photo_count, errors)
    if count and photos:
        errors["photos"] = _l("Send the photos with the report or one by one after it, not both.")
    if errors:
        try:
            clean_activity_input(raw)
        except ActivityError as error:
            errors = {**error.fields, **errors}
        raise ActivityError(_l("Some fields need attention."), fields=errors)
    return Receipt(create_activity(actor, kim, raw, photos, publish=action == PendingAction.PUBLISH, written_at=when,
                                   photo_count=count, key=key, fingerprint=fingerprint))


def _carry_out_pending(actor, activity: Activity) -> None:
    """The last announced photo is stored: do what the report was sent to do."""
    action, activity.pending_action = activity.pending_action, None
    now = utcnow()
    if action == PendingAction.PUBLISH and activity.status == ActivityStatus.DRAFT:
        activity.status = ActivityStatus.PUBLISHED
        activity.published_at = now
        refresh_last_activity(activity.kim)
        _audit(actor, "activity.publish", activity, before={"status": ActivityStatus.DRAFT},
               after={"status": ActivityStatus.PUBLISHED})
    elif action == PendingAction.REVIEW and activity.status == ActivityStatus.HIDDEN:
        activity.review_requested_at = now
        _audit(actor, "activity.review_request", activity)


def store_report_photo(actor, activity: Activity, n: int, data: bytes, key: str | None) -> Receipt:
    """Photo `n` (1..photos_expected) of a report, uploaded on its own with its own key.

    Stored once: the same key again answers without storing (replayed); another key for a stored
    position is refused with 409. The photos of one report are serialised by a row lock, so a
    race on one position stores one photo and the last photo carries out the waiting action once."""
    _authorise(actor, permissions.can_edit_activity(actor, activity), activity,
               _l("You may not change the photos of this report."))
    idempotency.check_key(key, ActivityError)
    db.session.refresh(activity, with_for_update=True)
    db.session.expire(activity, ["photos"])  # read them again now that the row is ours
    if not 1 <= n <= (activity.photos_expected or 0):
        raise ActivityError(_l("This report expects no photo %(n)d.", n=n), status=400)
    db.session.expire(activity, ["processing_photos"])  # read under the lock too, when needed
    held = activity.photo_at(n - 1)
    if held is not None:
        if held.client_key != key:
            raise ActivityError(_l("Photo %(n)d of this report was sent already with another key.", n=n),
                                status=409, code="idempotency_conflict")
        return Receipt(activity, replayed=True)
    if data is None or not len(data):
        raise ActivityError(_l("Some fields need attention."), fields={"photo": _l("Choose a photo.")})
    if len(data) > PHOTO_MAX_BYTES:
        raise ActivityError(_l("The image is larger than %(mb)d MB.", mb=PHOTO_MAX_BYTES // (1024 * 1024)),
                            fields={"photo": _l("The image is larger than %(mb)d MB.",
                                                mb=PHOTO_MAX_BYTES // (1024 * 1024))}, status=413)
    try:
        check_pixel_budget([image_pixels(data, PHOTO_MAX_BYTES)])
        suffix = _in_background(data)
        if suffix is None:
            (full, width, height), (thumb, _, _) = image_variants(data, PHOTO_MAX_BYTES)
    except UploadError as error:
        raise ActivityError(error.message, fields={"photo": error.message}) from None
    if suffix:  # large, with the job queue: acknowledged now, shown when the worker is done
        _keep_for_worker(activity, data, suffix, n - 1, client_key=key)
        activity.photos_with_worker = Activity.photos_with_worker + 1  # in SQL, as the job's -1
    else:
        activity.photos.append(Photo(
            key=save_in_transaction(db.session, full, ".webp"),
            thumb_key=save_in_transaction(db.session, thumb, ".webp"),
            width=width, height=height, position=n - 1, client_key=key,
        ))
    activity.updated_at = utcnow()
    db.session.flush()
    _audit(actor, "activity.photo_add", activity, after={"photo": n, "photos": activity.photos_received})
    if activity.pending_action is not None and activity.photos_received >= activity.photos_expected:
        _carry_out_pending(actor, activity)
    return Receipt(activity)
