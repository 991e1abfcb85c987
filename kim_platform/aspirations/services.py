"""Writing aspirations: intake by KIM members (with evidence re-encoded like report photos),
routing to the handler, the state machine's transitions with their required fields, deadlines,
the daily escalation of overdue items and the deletion of residents' personal data.

Operations flush; the request or CLI edge commits. Every change is audited and, for the KIM,
recorded in the item's history.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, or_, select, text, update

from kim_platform import permissions
from kim_platform.aspirations import deadlines
from kim_platform.aspirations.models import (
    BARU,
    CLOSED_STATES,
    DIJAWAB,
    DITERUSKAN,
    DIVERIFIKASI,
    DUPLIKAT,
    HANDLER_STATES,
    HOAKS,
    HOAX_CHANNELS,
    KINDS,
    PUBLISHABLE_STATES,
    SELESAI,
    TOPICS,
    TRANSITIONS,
    UP,
    VERDICTS,
    Aspiration,
    AspirationEscalationNotice,
    AspirationEvent,
    AspirationPhoto,
)
from kim_platform.audit.models import AuditEntry
from kim_platform.audit.services import record
from kim_platform.core import clock, idempotency
from kim_platform.core.clock import utcnow
from kim_platform.core.domain import DomainError
from kim_platform.core.images import UploadError, check_pixel_budget, image_pixels, image_variants
from kim_platform.core.storage import save_in_transaction
from kim_platform.core.text import forbidden_character, text_problem
from kim_platform.extensions import db
from kim_platform.regions.codes import is_valid_code, level_of, parent_of, province_of

FIELDS = ("kind", "topic", "desa_code", "description", "residents_count", "links", "resident_name",
          "resident_contact", "hoax_claim", "hoax_channel", "hoax_link")
MAX_DESCRIPTION = 5000
MAX_CLAIM = 2000
MAX_ANSWER = 5000
MAX_REASON = 2000
MAX_LINKS = 10
MAX_PHOTOS = 4
PHOTO_MAX_BYTES = 15 * 1024 * 1024
MAX_RESIDENTS = 1_000_000
MAX_PUBLIC_TITLE = 120
MAX_PUBLIC_TEXT = 3000


class AspirationError(DomainError):
    """An aspiration operation refused (the aspirations' own error; callers catch `DomainError`)."""


def _fields_error(errors: dict) -> AspirationError:
    return AspirationError(_l("Some fields need attention."), fields=errors)


def _web_link(value) -> str:
    if not isinstance(value, str):
        raise ValueError
    url = value.strip()
    parts = urlsplit(url)
    if (len(url) > 500 or forbidden_character(url) or parts.scheme.lower() not in ("http", "https")
            or "." not in (parts.hostname or "") or parts.username):
        raise ValueError
    return url


def _links(value, key: str, errors: dict) -> list[str]:
    if value in (None, ""):
        return []
    items = [v for v in re.split(r"[\s]+", value) if v] if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > MAX_LINKS:
        errors[key] = _l("At most %(n)d links.", n=MAX_LINKS)
        return []
    try:
        return list(dict.fromkeys(_web_link(v) for v in items))
    except ValueError:
        errors[key] = _l("Each link must be a web address starting with http:// or https://.")
        return []


def _text(raw: dict, key: str, limit: int, errors: dict, required: bool = False, multiline: bool = True):
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        errors[key] = _l("Must be text.")
        return None
    value = (value or "").strip()
    if not value:
        if required:
            errors[key] = _l("This field is required.")
        return None
    if len(value) > limit:
        errors[key] = _l("At most %(n)d characters.", n=limit)
        return None
    problem = text_problem(value, multiline=multiline)
    if problem:
        errors[key] = problem
        return None
    return value


def _whole(value, key: str, errors: dict, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        value = None
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        errors[key] = _l("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)
        return None
    return number


def clean_aspiration_input(raw: dict, kim) -> dict:
    """Validate an intake; AspirationError names every bad field. The desa defaults to the KIM's
    and must be a desa of the KIM's province."""
    if not isinstance(raw, dict):
        raise AspirationError(_l("The body must be a JSON object."), status=400)
    errors: dict = {}
    clean: dict = {}
    kind = raw.get("kind")
    if kind not in KINDS:
        errors["kind"] = _l("Choose one of: %(choices)s.", choices=", ".join(KINDS))
    clean["kind"] = kind
    topic = raw.get("topic")
    if topic not in TOPICS:
        errors["topic"] = _l("Choose a topic from the list.")
    clean["topic"] = topic
    clean["description"] = _text(raw, "description", MAX_DESCRIPTION, errors, required=True)
    residents = raw.get("residents_count")
    clean["residents_count"] = 1 if residents in (None, "") else _whole(residents, "residents_count", errors, 1,
                                                                        MAX_RESIDENTS)
    clean["links"] = _links(raw.get("links"), "links", errors)
    clean["resident_name"] = _text(raw, "resident_name", 120, errors, multiline=False)
    clean["resident_contact"] = _text(raw, "resident_contact", 120, errors, multiline=False)
    desa = raw.get("desa_code")
    desa = desa.strip() if isinstance(desa, str) and desa.strip() else kim.desa_code if desa in (None, "") else desa
    if not isinstance(desa, str) or not is_valid_code(desa) or level_of(desa) != "desa":
        errors["desa_code"] = _l("Enter the code of a desa/kelurahan, e.g. 76.02.01.1002.")
    else:
        from kim_platform.regions.queries import get_region

        region = get_region(desa)
        if region is None or region.level != "desa":
            errors["desa_code"] = _l("No desa/kelurahan has this code.")
        elif region.retired_on is not None:
            from kim_platform.regions.places import retired_code_message

            errors["desa_code"] = retired_code_message(region)
        elif province_of(desa) != province_of(kim.desa_code):
            errors["desa_code"] = _l("The desa must lie in the KIM's own province.")
    clean["desa_code"] = desa
    if kind == HOAKS:
        clean["hoax_claim"] = _text(raw, "hoax_claim", MAX_CLAIM, errors, required=True)
        channel = raw.get("hoax_channel")
        if channel not in HOAX_CHANNELS:
            errors["hoax_channel"] = _l("Choose where it circulated.")
        clean["hoax_channel"] = channel
        link = raw.get("hoax_link")
        clean["hoax_link"] = None
        if link not in (None, ""):
            try:
                clean["hoax_link"] = _web_link(link)
            except ValueError:
                errors["hoax_link"] = _l("Each link must be a web address starting with http:// or https://.")
    else:
        for key in ("hoax_claim", "hoax_channel", "hoax_link"):
            if raw.get(key) not in (None, ""):
                errors[key] = _l("Only for a hoax report.")
    if errors:
        raise _fields_error(errors)
    return clean


def check_evidence(uploads: list[bytes]) -> list[int]:
    """Every image judged from its header before any is decoded (count, size, format, pixels)."""
    if len(uploads) > MAX_PHOTOS:
        raise _fields_error({"photos": _l("At most %(n)d photos.", n=MAX_PHOTOS)})
    pixels = []
    for n, data in enumerate(uploads, 1):
        try:
            pixels.append(image_pixels(data, PHOTO_MAX_BYTES))
        except UploadError as error:
            raise _fields_error({"photos": _l("Photo %(n)d: %(problem)s", n=n, problem=error.message)}) from None
    try:
        check_pixel_budget(pixels)
    except UploadError as error:
        raise _fields_error({"photos": error.message}) from None
    return pixels


def _event(item: Aspiration, actor, action: str, from_state, reason=None, details=None, at=None) -> None:
    at = at or utcnow()
    item.events.append(AspirationEvent(actor_id=getattr(actor, "id", None), action=action, from_state=from_state,
                                       to_state=item.state, reason=reason, details=details or {}, at=at))
    # Scoped to the handler (as the item's visibility is), not to the desa: a pembina of the desa's
    # kabupaten who does not handle the item must not learn of it from the audit log.
    record(actor, f"aspiration.{action}", "aspiration", item.id, scope_code=item.handler_scope,
           before={"state": from_state}, after={"state": item.state, "reason": reason, **(details or {})})


def _set_deadline(item: Aspiration, now: datetime, days: int | None) -> None:
    if days is None:
        item.due_at = item.second_due_at = None
    else:
        item.due_at = deadlines.due_after(now, days)
        item.second_due_at = deadlines.extend(item.due_at, deadlines.ESCALATION_DAYS)
    item.escalation_level, item.escalated_at = 0, None


def _authorise_submit(actor, kim) -> None:
    if not permissions.can_submit_aspiration(actor, kim):
        status = permissions.refusal(False, visible=permissions.kim_visible(actor, kim))
        if status == 404:
            raise AspirationError(_l("No such KIM."), status=404)
        if permissions.kim_role(actor, kim) is not None:
            raise AspirationError(_l("Aspirations can be sent once the KIM has been verified by its pembina."),
                                  status=403)
        raise AspirationError(_l("Only members of this KIM record its aspirations."), status=status)


def submit_aspiration(actor, kim, raw: dict, photos: list[bytes] = (), *, written_at: datetime | None = None,
                      photo_count: int = 0, key: str | None = None, fingerprint: str | None = None) -> Aspiration:
    """A KIM member records an aspiration, complaint, information request or hoax report. It goes
    to the pembina of its desa's kabupaten/kota (else the province's, else the directorate), due
    for triage within 3 working days.

    From the offline outbox (send_aspiration) it carries its Idempotency-Key and may announce
    `photo_count` evidence photos that follow one by one (store_evidence_photo)."""
    from kim_platform.aspirations.queries import handler_scope_for

    _authorise_submit(actor, kim)
    values = clean_aspiration_input(raw, kim)
    pixels = check_evidence(list(photos))
    variants = {}
    for n in sorted(range(len(photos)), key=lambda i: pixels[i]):  # the smallest decoded first
        try:
            variants[n] = image_variants(photos[n], PHOTO_MAX_BYTES)
        except UploadError as error:
            raise _fields_error({"photos": _l("Photo %(n)d: %(problem)s", n=n + 1, problem=error.message)}) from None
    now = utcnow()
    item = Aspiration(kim_id=kim.id, kim=kim, author_id=actor.id, state=BARU,
                      handler_scope=handler_scope_for(values["desa_code"]), created_at=now, updated_at=now,
                      idempotency_key=key, request_hash=fingerprint, written_at=written_at,
                      photos_expected=photo_count, **values)
    _set_deadline(item, now, deadlines.TRIAGE_DAYS)
    for n in range(len(photos)):
        (full, width, height), (thumb, _, _) = variants[n]
        item.photos.append(AspirationPhoto(key=save_in_transaction(db.session, full, ".webp"),
                                           thumb_key=save_in_transaction(db.session, thumb, ".webp"),
                                           width=width, height=height, position=n))
    db.session.add(item)
    db.session.flush()
    _event(item, actor, "create", None, details={"handler_scope": item.handler_scope, "kind": item.kind}, at=now)
    db.session.flush()
    from kim_platform.aspirations import mails

    mails.tell_handlers(item)
    return item


# --- from the offline outbox, exactly once (core/idempotency.py) --------------------------------

@dataclass
class Receipt:
    """What an item or evidence photo sent from the outbox ended with, and whether it was a replay."""
    item: Aspiration
    replayed: bool = False


def send_aspiration(actor, kim, raw: dict, photos: list[bytes] = (), *, written_at=None, photo_count=None,
                    key: str | None = None) -> Receipt:
    """An item from the API, recorded at most once per Idempotency-Key `key`: the same key and
    parsed body answers the stored item as it is now, another body under the key 409. A refused
    request stores nothing, so its key stays free. `photo_count` (0-4) evidence photos may follow
    one by one (store_evidence_photo), not together with `photos`."""
    _authorise_submit(actor, kim)
    photos = list(photos)
    fingerprint = None
    if key is not None:
        idempotency.check_key(key, AspirationError)
        fingerprint = idempotency.fingerprint(kim.id, raw, written_at, photo_count, photos)
        idempotency.lock("aspiration", actor.id, key)
        earlier = idempotency.replay(Aspiration, actor.id, key, fingerprint,
                                     _l("This Idempotency-Key was used for another item."), AspirationError)
        if earlier is not None:
            return Receipt(earlier, replayed=True)
    errors: dict = {}
    when = idempotency.device_time(written_at, errors)
    count = idempotency.photo_count(photo_count, MAX_PHOTOS, errors)
    if count and photos:
        errors["photos"] = _l("Send the photos with the item or one by one after it, not both.")
    if errors:
        try:
            clean_aspiration_input(raw, kim)
        except AspirationError as error:
            errors = {**error.fields, **errors}
        raise _fields_error(errors)
    return Receipt(submit_aspiration(actor, kim, raw, photos, written_at=when, photo_count=count, key=key,
                                     fingerprint=fingerprint))


def _refuse(allowed: bool, actor, item: Aspiration, message, visible: bool | None = None) -> None:
    """The one refusal of an item's write: 404 to whoever may not see it (its existence is not
    revealed), 403 with `message` to one who sees it but may not do this."""
    visible = permissions.aspiration_visible(actor, item) if visible is None else visible
    status = permissions.refusal(allowed, visible=visible)
    if status == 404:
        raise AspirationError(_l("No such item."), status=404)
    if status:
        raise AspirationError(message, status=status)


def store_evidence_photo(actor, item: Aspiration, n: int, data: bytes | None, key: str | None) -> Receipt:
    """Evidence photo `n` (1..photos_expected) of an item, sent on its own with its own key, by
    the item's author. Stored once: the same key again stores nothing (replayed); another key for
    a stored position is 409. The photos of one item are serialised by a row lock."""
    _refuse(permissions.can_add_aspiration_evidence(actor, item), actor, item,
            _l("Only the member who recorded this item sends its evidence."))
    idempotency.check_key(key, AspirationError)
    db.session.refresh(item, with_for_update=True)
    db.session.expire(item, ["photos"])  # read them again now that the row is ours
    if not 1 <= n <= (item.photos_expected or 0):
        raise AspirationError(_l("This item expects no photo %(n)d.", n=n), status=400)
    held = next((p for p in item.photos if p.client_key is not None and p.position == n - 1), None)
    if held is not None:
        if held.client_key != key:
            raise AspirationError(_l("Photo %(n)d of this item was sent already with another key.", n=n),
                                  status=409, code="idempotency_conflict")
        return Receipt(item, replayed=True)
    if not data:
        raise _fields_error({"photo": _l("Choose a photo.")})
    if len(data) > PHOTO_MAX_BYTES:
        message = _l("The image is larger than %(mb)d MB.", mb=PHOTO_MAX_BYTES // (1024 * 1024))
        raise AspirationError(message, fields={"photo": message}, status=413)
    try:
        check_pixel_budget([image_pixels(data, PHOTO_MAX_BYTES)])
        (full, width, height), (thumb, _, _) = image_variants(data, PHOTO_MAX_BYTES)
    except UploadError as error:
        raise AspirationError(error.message, fields={"photo": error.message}) from None
    item.photos.append(AspirationPhoto(key=save_in_transaction(db.session, full, ".webp"),
                                       thumb_key=save_in_transaction(db.session, thumb, ".webp"),
                                       width=width, height=height, position=n - 1, client_key=key))
    item.updated_at = utcnow()
    db.session.flush()
    record(actor, "aspiration.photo_add", "aspiration", item.id, scope_code=item.handler_scope,
           after={"photo": n, "photos": len(item.photos)})
    return Receipt(item)


def _transfer_target(raw_target, item: Aspiration, errors: dict) -> str | None:
    """The new handler scope of a transfer: "naik" (up a level), or an Indonesian region code
    (a kabupaten/kota or a province; a finer code counts as its kabupaten), routed like intake."""
    from kim_platform.aspirations.queries import handler_scope_for
    from kim_platform.regions.queries import get_region

    target = raw_target.strip() if isinstance(raw_target, str) else raw_target
    if target == UP:
        if item.handler_scope is None:
            errors["target"] = _l("The directorate is the highest level.")
            return None
        parent = parent_of(item.handler_scope)
        return handler_scope_for(parent) if parent else None
    region = get_region(target) if isinstance(target, str) and is_valid_code(target) else None
    if region is None:
        errors["target"] = _l("Enter an Indonesian region code (a kabupaten/kota or a province) or choose "
                              "up a level.")
        return None
    if region.retired_on is not None:
        from kim_platform.regions.places import retired_code_message

        errors["target"] = retired_code_message(region)
        return None
    code = target[:5] if len(target) > 5 else target
    new = handler_scope_for(code)
    if new == item.handler_scope:
        errors["target"] = _l("That region's pembina already handle this item; choose another region.")
    elif new in _former_handlers(item):
        # Sending an item back where it was would restart its deadline, its one extension and its
        # escalation as often as one liked: the second handler answers or sends it on.
        errors["target"] = _l("This item has already been with that region's pembina; answer it or send it "
                              "to another region.")
    return new


def _former_handlers(item: Aspiration) -> set:
    from kim_platform.aspirations.queries import history

    return {(e.details or {}).get("from_scope") for e in history(item) if e.action == "bukan_wewenang"}


def transition(actor, item: Aspiration, action: str, raw: dict | None = None) -> Aspiration:
    """Carry out one action of the state machine (models.TRANSITIONS) with its required fields.
    An action the item's state does not allow answers 409; a missing field 422."""
    raw = raw if isinstance(raw, dict) else {}
    step = TRANSITIONS.get(action)
    visible = permissions.aspiration_visible(actor, item)
    if step is None:
        if not visible:
            raise AspirationError(_l("No such item."), status=404)
        raise _fields_error({"action": _l("Choose one of: %(choices)s.", choices=", ".join(TRANSITIONS))})
    _refuse(permissions.can_transition_aspiration(actor, item, step.by), actor, item,
            _l("You may not do this on this item."), visible=visible)
    # Two actions at once on one item (a "duplikat" and a "dijawab"): the second waits and sees the
    # first one's state.
    db.session.refresh(item, with_for_update=True)
    if item.state not in step.sources or (action == "perpanjang" and item.extended):
        message = (_l("The deadline has already been extended once.") if action == "perpanjang" and item.extended
                   else _l("This item is %(state)s: this action is not possible now.", state=item.state))
        raise AspirationError(message, status=409, code="illegal_transition")
    errors: dict = {}
    now = utcnow()
    from_state = item.state
    details: dict = {}
    reason = _text(raw, "reason", MAX_REASON, errors, required="reason" in step.required)
    if action == "diverifikasi":
        item.state = DIVERIFIKASI
        _set_deadline(item, now, deadlines.answer_days(item.kind))
    elif action == "bukan_wewenang":
        new_scope = _transfer_target(raw.get("target"), item, errors)
        if not errors:
            details = {"from_scope": item.handler_scope, "to_scope": new_scope}
            item.handler_scope, item.state, item.extended = new_scope, BARU, False
            _set_deadline(item, now, deadlines.TRIAGE_DAYS)
    elif action == "duplikat":
        original = _original(actor, item, raw.get("original_id"), errors)
        if not errors:
            item.state, item.original_id, item.closed_at = DUPLIKAT, original.id, now
            db.session.execute(update(Aspiration).where(Aspiration.id == original.id)
                               .values(residents_count=Aspiration.residents_count + item.residents_count))
            db.session.expire(original, ["residents_count"])
            details = {"original_id": original.id, "residents_added": item.residents_count}
            _set_deadline(item, now, None)
    elif action == "ditolak":
        if not errors:
            item.state, item.reason, item.closed_at = "ditolak", reason, now
            _set_deadline(item, now, None)
    elif action == "diteruskan":
        agency = _text(raw, "agency", 200, errors, required=True, multiline=False)
        reference = _text(raw, "reference", 100, errors, required=True, multiline=False)
        if not errors:
            item.state, item.agency, item.agency_reference = DITERUSKAN, agency, reference
            _set_deadline(item, now, deadlines.FORWARDED_DAYS)
            details = {"agency": agency, "reference": reference}
    elif action == "dijawab":
        _answer(item, raw, errors)
        if not errors:
            item.state = DIJAWAB
            if item.answered_at is None:
                item.answered_at = now
                item.answered_in_time = item.due_at is not None and now <= item.due_at
            _set_deadline(item, now, None)
            details = {"verdict": item.verdict} if item.kind == HOAKS else {}
    elif action == "perpanjang":
        if not errors:
            days = (deadlines.TRIAGE_DAYS if item.state == BARU else deadlines.FORWARDED_DAYS
                    if item.state == DITERUSKAN else deadlines.answer_days(item.kind))
            item.extended = True
            previous = item.due_at
            _set_deadline(item, now, days)
            if previous is not None and previous > now:  # the extension adds to what was left
                item.due_at = deadlines.extend(previous, days)
                item.second_due_at = deadlines.extend(item.due_at, deadlines.ESCALATION_DAYS)
            details = {"due_before": previous.isoformat() if previous else None, "due_at": item.due_at.isoformat()}
    elif action == "disampaikan":
        how = _text(raw, "how", 500, errors, required=True, multiline=False)
        on = _date(raw.get("delivered_on"), errors)
        answered_on = item.answered_at.astimezone(clock.WIB).date() if item.answered_at else None
        if on is not None and answered_on is not None and on < answered_on:
            errors["delivered_on"] = _l("The answer came on %(day)s: it was passed on that day or later.",
                                        day=answered_on.isoformat())
        if not errors:
            item.state, item.delivered_how, item.delivered_on, item.closed_at = "selesai", how, on, now
            details = {"how": how, "delivered_on": on.isoformat()}
    if errors:
        raise _fields_error(errors)
    item.updated_at = now
    _event(item, actor, action, from_state, reason=reason, details=details, at=now)
    db.session.flush()
    return item


def _date(value, errors: dict) -> date | None:
    if value in (None, ""):
        errors["delivered_on"] = _l("This field is required.")
        return None
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value).strip())
    except ValueError:
        errors["delivered_on"] = _l("Use the date format YYYY-MM-DD.")
        return None
    if day > clock.latest_today():
        errors["delivered_on"] = _l("The date cannot be in the future.")
        return None
    return day


def _original(actor, item: Aspiration, value, errors: dict) -> Aspiration | None:
    from kim_platform.aspirations.queries import get_aspiration

    try:
        original_id = int(str(value).strip()) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        original_id = None
    original = get_aspiration(original_id) if original_id else None
    if original is None or not permissions.aspiration_visible(actor, original):
        errors["original_id"] = _l("No such item.")
        return None
    while original.state == DUPLIKAT and original.original_id:  # the root of a chain gains the count
        original = original.original
    if not permissions.aspiration_visible(actor, original):
        errors["original_id"] = _l("No such item.")
        return None
    if original.id == item.id:
        errors["original_id"] = _l("An item cannot be a duplicate of itself.")
        return None
    return original


def _answer(item: Aspiration, raw: dict, errors: dict) -> None:
    links = _links(raw.get("links"), "links", errors)
    if item.kind == HOAKS:
        verdict = raw.get("verdict")
        if verdict not in VERDICTS:
            errors["verdict"] = _l("Choose one of: %(choices)s.", choices=", ".join(VERDICTS))
        link = raw.get("factcheck_link")
        try:
            factcheck = _web_link(link) if link not in (None, "") else None
        except ValueError:
            factcheck = None
        if factcheck is None:
            errors["factcheck_link"] = _l("Give the link to the fact check (TurnBackHoax, CekFakta, komdigi.go.id).")
        clarification = _text(raw, "answer", MAX_ANSWER, errors, required=True)
        if not errors:
            item.verdict, item.factcheck_link, item.answer = verdict, factcheck, clarification
    else:
        answer = _text(raw, "answer", MAX_ANSWER, errors, required=True)
        if not errors:
            item.answer = answer
    if not errors:
        item.answer_links = links


# --- the public version of an answered item (the handler's choice) -------------------------------

def _names_the_resident(item: Aspiration, texts) -> bool:
    """Whether a public text repeats the resident's name or contact (a slip the handler is told of)."""
    secrets = [v.strip().lower() for v in (item.resident_name, item.resident_contact) if v and len(v.strip()) >= 3]
    return any(secret in value.lower() for secret in secrets for value in texts if value)


def publish_aspiration(actor, item: Aspiration, raw: dict | None = None) -> Aspiration:
    """Publish (or update) an answered item's public version: a title and a text the handler wrote
    or approved, for a hoax the claim as the handler approved it; the verdict and fact-check link
    come from the answer. Nothing is copied from the resident's description: without the texts it
    is a 422. Only items with an answer (dijawab, selesai) are publishable (409 otherwise)."""
    raw = raw if isinstance(raw, dict) else {}
    _refuse(permissions.can_publish_aspiration(actor, item), actor, item,
            _l("Only the pembina handling this item publish it."))
    db.session.refresh(item, with_for_update=True)
    if item.state not in PUBLISHABLE_STATES or not item.answer:
        raise AspirationError(_l("Only an answered item can be published."), status=409, code="illegal_transition")
    errors: dict = {}
    title = _text(raw, "public_title", MAX_PUBLIC_TITLE, errors, required=True, multiline=False)
    body = _text(raw, "public_text", MAX_PUBLIC_TEXT, errors, required=True)
    claim = None
    if item.kind == HOAKS:
        claim = _text(raw, "public_claim", MAX_CLAIM, errors, required=True)
    elif raw.get("public_claim") not in (None, ""):
        errors["public_claim"] = _l("Only for a hoax report.")
    if not errors and _names_the_resident(item, (title, body, claim)):
        errors["public_text"] = _l("The public version must not name the resident or their contact.")
    if errors:
        raise _fields_error(errors)
    now = utcnow()
    again = item.published_at is not None
    item.public_title, item.public_text, item.public_claim = title, body, claim
    item.published_at = item.published_at or now
    item.published_by_id = actor.id if permissions.is_person(actor) else None
    item.updated_at = now
    _event(item, actor, "publikasi", item.state, details={"public_title": title, "updated": again}, at=now)
    db.session.flush()
    return item


def unpublish_aspiration(actor, item: Aspiration) -> Aspiration:
    """Hide an item's public version again (its public page answers 404); the texts are kept for a
    later publication. 409 when it is not published."""
    _refuse(permissions.can_publish_aspiration(actor, item), actor, item,
            _l("Only the pembina handling this item publish it."))
    db.session.refresh(item, with_for_update=True)
    if item.published_at is None:
        raise AspirationError(_l("This item is not published."), status=409, code="not_published")
    now = utcnow()
    item.published_at, item.updated_at = None, now
    _event(item, actor, "tarik_publikasi", item.state, at=now)
    db.session.flush()
    return item


# --- the klarifikasi hoaks report, in one step ---------------------------------------------------
CLARIFICATION_TYPE = "klarifikasi-hoaks"
CLARIFIABLE_STATES = (DIJAWAB, SELESAI)
MAX_TITLE = 150


def clarification_draft(item: Aspiration) -> dict:
    """The report's text prefilled from an answered hoax item: the claim as heard, where it
    circulated, the verdict, the clarification and the fact-check link; never the resident's name
    or contact, nor the link to the hoax itself (a clarification does not spread it)."""
    from flask_babel import gettext as _

    from kim_platform.aspirations.models import HOAX_CHANNEL_LABELS, VERDICT_LABELS

    claim = " ".join((item.hoax_claim or "").split())
    prefix = _("Hoax clarification: %(claim)s", claim="")
    room = MAX_TITLE - len(prefix)
    title = prefix + (claim if len(claim) <= room else claim[:room - 1].rstrip() + "…")
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in (item.hoax_claim or "").strip().splitlines())
    channel = HOAX_CHANNEL_LABELS.get(item.hoax_channel)
    parts = [(_("The claim circulating (%(channel)s):", channel=channel) if channel
              else _("The claim circulating:")), quoted,
             f"**{_('Verdict')}: {VERDICT_LABELS.get(item.verdict, item.verdict)}**"]
    if item.answer:
        parts.append(item.answer.strip())
    if item.factcheck_link:
        parts.append(f"{_('Fact check')}: {item.factcheck_link}")
    return {"title": title, "description": "\n\n".join(parts)}


def publish_clarification(actor, item: Aspiration, raw: dict | None = None):
    """Publish an answered hoax item as its KIM's klarifikasi hoaks activity report, once per item.

    The report goes through the activities' own service (their validation, permissions and
    visibility), dated the KIM's local today, in the item's desa, with the fact-check link; the
    member may change the title and the description first (`raw`), otherwise the draft is used.
    A second time, a non-hoax item, or one without a verdict answer 409."""
    from kim_platform.activities.services import create_activity

    raw = raw if isinstance(raw, dict) else {}
    _refuse(permissions.can_publish_clarification(actor, item), actor, item,
            _l("Only members of the reporting KIM publish its hoax clarification."))
    db.session.refresh(item, with_for_update=True)  # once per item, whatever the race
    if item.clarification_activity_id is not None:
        raise AspirationError(_l("A hoax clarification has already been published for this item."), status=409,
                              code="clarification_exists")
    if item.kind != HOAKS:
        raise AspirationError(_l("Only a hoax report can be published as a hoax clarification."), status=409,
                              code="not_clarifiable")
    if item.verdict is None or item.state not in CLARIFIABLE_STATES:
        raise AspirationError(_l("The pembina has not given a verdict on this hoax report yet."), status=409,
                              code="not_clarifiable")
    draft = clarification_draft(item)
    report = {
        "title": raw["title"] if "title" in raw else draft["title"],
        "description": raw["description"] if "description" in raw else draft["description"],
        "type": CLARIFICATION_TYPE, "date": clock.local_today(item.kim.desa_code).isoformat(),
        "desa_code": item.desa_code, "links": [item.factcheck_link] if item.factcheck_link else [],
    }
    for field in ("title", "description"):  # the report is public: the same guard as the public version
        if isinstance(report[field], str) and _names_the_resident(item, (report[field],)):
            raise _fields_error({field: _l("The report must not name the resident or their contact.")})
    activity = create_activity(actor, item.kim, report, publish=True)
    now = utcnow()
    item.clarification_activity_id = activity.id
    item.updated_at = now
    _event(item, actor, "klarifikasi", item.state, details={"activity_id": activity.id}, at=now)
    db.session.flush()
    return activity


# --- the daily jobs -----------------------------------------------------------------------------

# The recipients of an escalation: level 1 the pembina of the handler's province (the directorate
# when the directorate itself handles it), level 2 the directorate; active, confirmed accounts.
NOTICES_SQL = text("""
INSERT INTO aspiration_escalation_notice (aspiration_id, user_id, level, escalated_at)
SELECT a.id, g.user_id, :level, :at
FROM aspiration a
JOIN role_grant g ON (:level = 1 AND a.handler_scope IS NOT NULL AND g.role = 'pembina'
                      AND g.scope_code = left(a.handler_scope, 2))
                  OR ((:level = 2 OR a.handler_scope IS NULL) AND g.role = 'direktorat')
JOIN user_account u ON u.id = g.user_id AND u.is_active AND u.email_verified_at IS NOT NULL
WHERE a.id = ANY(:ids)
ON CONFLICT DO NOTHING
""")


def escalate_overdue(now: datetime | None = None) -> dict:
    """Mark overdue items, set-based and idempotent: first level (past due_at) flags them for the
    province's pembina, second level (ESCALATION_DAYS working days later still overdue) for the
    directorate. Each step is in the item's history and the audit log, as done by the system."""
    now = now or utcnow()
    result = {}
    for level, column in ((1, Aspiration.due_at), (2, Aspiration.second_due_at)):
        rows = db.session.execute(
            update(Aspiration).where(Aspiration.state.in_(HANDLER_STATES), column < now,
                                     Aspiration.escalation_level < level)
            .values(escalation_level=level, escalated_at=now)
            .returning(Aspiration.id, Aspiration.state, Aspiration.desa_code, Aspiration.handler_scope)
            .execution_options(synchronize_session=False)).all()
        if rows:
            db.session.execute(insert(AspirationEvent), [
                {"aspiration_id": r.id, "actor_id": None, "action": "eskalasi", "from_state": r.state,
                 "to_state": r.state, "reason": None, "details": {"level": level}, "at": now} for r in rows])
            db.session.execute(insert(AuditEntry), [
                {"actor_id": None, "action": "aspiration.escalate", "object_type": "aspiration",
                 "object_id": str(r.id), "scope_code": r.handler_scope, "before": None,
                 "after": {"level": level, "handler_scope": r.handler_scope}} for r in rows])
            # Who is told (in tomorrow's digest at the latest): one notice per item and recipient.
            db.session.execute(NOTICES_SQL, {"ids": [r.id for r in rows], "level": level, "at": now})
        result[level] = len(rows)
    db.session.expire_all()
    return result


def purge_personal(now: datetime | None = None, days: int | None = None) -> int:
    """Delete the resident's name and contact of items closed more than `days` ago (default
    KIM_ASPIRATION_PERSONAL_DAYS, 90): UU PDP 27/2022's data minimisation. Idempotent."""
    now = now or utcnow()
    days = current_app.config["ASPIRATION_PERSONAL_DAYS"] if days is None else days
    rows = db.session.execute(
        update(Aspiration).where(Aspiration.state.in_(CLOSED_STATES), Aspiration.closed_at < now - timedelta(days=days),
                                 or_(Aspiration.resident_name.is_not(None), Aspiration.resident_contact.is_not(None)))
        .values(resident_name=None, resident_contact=None, personal_purged_at=now)
        .returning(Aspiration.id).execution_options(synchronize_session=False)).all()
    if rows:
        db.session.execute(insert(AuditEntry), [
            {"actor_id": None, "action": "aspiration.purge_personal", "object_type": "aspiration",
             "object_id": str(r.id), "scope_code": None, "before": None, "after": {"days": days}} for r in rows])
    db.session.expire_all()
    return len(rows)



# Pending notices whose item is still escalated as told (answered or triaged since: dropped).
PENDING_NOTICES_SQL = text("""
SELECT n.id, n.user_id, n.level, (a.id IS NOT NULL) AS current, n.aspiration_id
FROM aspiration_escalation_notice n
LEFT JOIN aspiration a ON a.id = n.aspiration_id AND a.state = ANY(:states)
                      AND a.escalation_level >= n.level AND a.escalated_at >= n.escalated_at
WHERE n.sent_on IS NULL
ORDER BY n.user_id, n.aspiration_id, n.level
""")
DIGEST_CLAIM_SQL = text("""
INSERT INTO aspiration_escalation_digest (user_id, day, items)
SELECT * FROM unnest(CAST(:users AS bigint[]), CAST(:days AS date[]), CAST(:counts AS integer[]))
ON CONFLICT DO NOTHING
RETURNING user_id
""")


def send_escalation_digests(day: date | None = None, send=None) -> int:
    """One mail per person per day listing the items newly escalated to them (no personal data).

    Idempotent like the campaign digests: a (person, day) claim by INSERT … ON CONFLICT DO NOTHING,
    and each notice records the day it was told; a person already sent today's digest gets the
    rest tomorrow. `send(to, subject, body)`: the daily job collects them and mails after its commit."""
    from kim_platform.accounts.mails import send_quietly
    from kim_platform.accounts.models import User
    from kim_platform.aspirations import mails

    day = day or clock.today()
    send = send or send_quietly
    rows = db.session.execute(PENDING_NOTICES_SQL, {"states": list(HANDLER_STATES)}).all()
    stale = [r.id for r in rows if not r.current]
    if stale:
        db.session.execute(update(AspirationEscalationNotice).where(AspirationEscalationNotice.id.in_(stale))
                           .values(sent_on=day).execution_options(synchronize_session=False))
    pending: dict[int, list] = {}
    for r in rows:
        if r.current:
            pending.setdefault(r.user_id, []).append(r)
    if not pending:
        return 0
    users = list(pending)
    claimed = set(db.session.execute(DIGEST_CLAIM_SQL, {
        "users": users, "days": [day] * len(users), "counts": [len(pending[u]) for u in users]}).scalars())
    if not claimed:
        return 0
    told = [r.id for u in claimed for r in pending[u]]
    db.session.execute(update(AspirationEscalationNotice).where(AspirationEscalationNotice.id.in_(told))
                       .values(sent_on=day).execution_options(synchronize_session=False))
    items = {a.id: a for a in db.session.scalars(
        select(Aspiration).where(Aspiration.id.in_({r.aspiration_id for u in claimed for r in pending[u]})))}
    from kim_platform.aspirations.queries import region_names
    from kim_platform.regions.codes import kabupaten_of

    names = region_names({kabupaten_of(a.desa_code) for a in items.values()})
    sent = 0
    for user in db.session.scalars(select(User).where(User.id.in_(claimed)).order_by(User.id)):
        entries = list(dict.fromkeys((items[r.aspiration_id], r.level) for r in pending[user.id]))
        send(user.email, *mails.escalation_digest(user, entries, names))
        sent += 1
    return sent
