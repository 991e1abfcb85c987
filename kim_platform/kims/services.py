"""Registering and maintaining KIMs: validation, the status machine, numbers, members.

Pages, the API and the CLI all come through here; operations flush, the request or CLI edge commits.
"""
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text, true
from sqlalchemy.orm import aliased, selectinload

from kim_platform import permissions
from kim_platform.accounts.services import AccountError, normalise_email, normalise_whatsapp
from kim_platform.audit.services import record
from kim_platform.core import clock
from kim_platform.core.clock import utcnow
from kim_platform.core.domain import DomainError
from kim_platform.core.images import UploadError, check_pdf, check_pixel_budget, image_pixels, reencode_image
from kim_platform.core.storage import delete_after_commit, save_in_transaction
from kim_platform.core.text import text_problem
from kim_platform.extensions import db
from kim_platform.kims.models import (
    ANGGOTA,
    KETUA,
    MANAGER_ROLES,
    MEMBER_ROLES,
    STATUS_LABELS,
    Bidang,
    InvitationStatus,
    Kim,
    KimInvitation,
    KimSkVersion,
    KimStatus,
    Membership,
    PENGURUS_POSITIONS,
)
from kim_platform.regions.codes import kabupaten_of
from kim_platform.regions.places import PlaceError, check_location, clean_place_input

SOCIAL_HOSTS = {
    "instagram": {"instagram.com"},
    "facebook": {"facebook.com", "fb.com", "fb.me"},
    "youtube": {"youtube.com", "youtu.be"},
    "tiktok": {"tiktok.com"},
    "x": {"x.com", "twitter.com"},
    "website": None,  # any web address
}
EDITABLE_FIELDS = ("name", "bidang", "desa_code", "lat", "lon", "address", "founded_on", "sk_number",
                   "sk_issuer", "sk_date", "sk_valid_until", "description", "whatsapp", "email", "socials",
                   "pengurus")
REQUIRED_FIELDS = ("name", "bidang", "desa_code", "lat", "lon")
MAX_BIDANG = 6
LOGO_MAX_BYTES = 5 * 1024 * 1024
SK_MAX_BYTES = 10 * 1024 * 1024


class KimError(DomainError):
    """A KIM operation refused: message, the fields at fault and the HTTP status (core/domain.py)."""


class PossibleDuplicate(KimError):
    """Registering refused until confirmed: KIMs with a similar name exist in the desa.

    `look_alikes` is what the registrant may be told of them (LookAlikes); the page lists them and
    asks to save again, the API answers 409 with them (send `confirm_not_duplicate`)."""

    def __init__(self, look_alikes):
        super().__init__(_l("A KIM with a similar name exists in this desa. If yours is a different group, "
                            "confirm to register it anyway."),
                         fields={"confirm_not_duplicate": _l("Confirm that this is a different group.")},
                         status=409)
        self.look_alikes = look_alikes


# --- parsing and validation ----------------------------------------------------------

def _parse_date(value, field: str, errors: dict):
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        parsed = date.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = _l("Use the date format YYYY-MM-DD.")
        return None
    if parsed > clock.latest_today():
        errors[field] = _l("The date cannot be in the future.")
    elif parsed.year < 1945:
        errors[field] = _l("The date is too far in the past.")
    return parsed


def _parse_valid_until(value, sk_date, errors: dict):
    """The SK's masa berlaku: a date, in the future as often as not, not before the SK itself."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = date.fromisoformat(str(value).strip())
        except ValueError:
            errors["sk_valid_until"] = _l("Use the date format YYYY-MM-DD.")
            return None
    if parsed.year < 1945 or parsed.year > 2200:
        errors["sk_valid_until"] = _l("The date is too far in the past.") if parsed.year < 1945 \
            else _l("The date is too far in the future.")
    elif sk_date is not None and parsed < sk_date:
        errors["sk_valid_until"] = _l("The SK cannot end before its date.")
    return parsed


def _parse_pengurus(value, errors: dict) -> dict | None:
    """`{"ketua": user_id, "sekretaris": user_id, "bendahara": user_id}` (null or "" leaves a
    position empty); who may hold one (a member of the KIM) is judged with the KIM (_set_pengurus)."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        errors["pengurus"] = _l("Give the pengurus as position and member.")
        return None
    clean = {}
    for position, user_id in value.items():
        key = f"pengurus.{position}"
        if position not in PENGURUS_POSITIONS:
            errors[key] = _l("Unknown position.")
        elif user_id in (None, ""):
            clean[position] = None
        elif isinstance(user_id, str) and user_id.strip().isascii() and user_id.strip().isdigit() \
                and len(user_id.strip()) < 19:
            clean[position] = int(user_id.strip())
        elif isinstance(user_id, int) and not isinstance(user_id, bool) and 0 < user_id < 2 ** 63:
            clean[position] = user_id
        else:
            errors[key] = _l("Choose a member of the KIM.")
    return clean


def validate_social_url(platform: str, url: str) -> str:
    """A normalised https URL on the platform's own domain, or ValueError."""
    url = url.strip()
    if not re.match(r"^https?://", url, re.I):
        url = "https://" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https") or "." not in host or parts.username or parts.password:
        raise ValueError
    allowed = SOCIAL_HOSTS[platform]
    if allowed is not None:
        bare = host[4:] if host.startswith("www.") else host
        bare = bare[2:] if bare.startswith("m.") else bare
        bare = bare[3:] if bare.startswith("vm.") else bare
        if bare not in allowed:
            raise ValueError
        if len(parts.path.strip("/")) == 0:
            raise ValueError  # the platform's home page is not an account
    return parts._replace(scheme="https").geturl()


def known_bidang() -> dict[str, Bidang]:
    return {b.slug: b for b in db.session.scalars(select(Bidang))}


def clean_kim_input(raw: dict, partial: bool = False) -> dict:
    """Validate user input (form or JSON) into model values; KimError lists every problem.

    Unknown keys (status, number, id, …) are ignored: they are not the user's to set."""
    errors: dict = {}
    clean: dict = {}
    present = {key for key in EDITABLE_FIELDS if key in raw}
    if not partial:
        for key in REQUIRED_FIELDS:
            value = raw.get(key)
            if value is None or (isinstance(value, (str, list, dict)) and not value):
                errors[key] = _l("This field is required.")

    def text_field(key, max_length, min_length=0, multiline=False):
        if key not in present or key in errors:
            return
        value = raw.get(key)
        if value is None:
            clean[key] = None
            return
        if not isinstance(value, str):
            errors[key] = _l("Must be text.")
            return
        value = value.strip()
        if text_problem(value, multiline):
            errors[key] = text_problem(value, multiline)
            return
        if len(value) > max_length:
            errors[key] = _l("At most %(n)d characters.", n=max_length)
        elif value and len(value) < min_length:
            errors[key] = _l("At least %(n)d characters.", n=min_length)
        else:
            clean[key] = value or None

    text_field("name", 150, 3)
    if "name" in clean and clean["name"] is None and "name" not in errors:
        errors["name"] = _l("This field is required.")
    text_field("address", 300)
    text_field("sk_number", 120)
    text_field("sk_issuer", 150)
    text_field("description", 5000, multiline=True)

    if "bidang" in present and "bidang" not in errors:
        value = raw.get("bidang")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            errors["bidang"] = _l("Choose at least one field from the list.")
        else:
            slugs = list(dict.fromkeys(v.strip() for v in value if v.strip()))
            # The count first, then the taxonomy read once: a huge list costs no query per item.
            known = known_bidang() if 0 < len(slugs) <= MAX_BIDANG else {}
            unknown = [slug for slug in slugs if slug not in known]
            if not slugs:
                errors["bidang"] = _l("Choose at least one field from the list.")
            elif len(slugs) > MAX_BIDANG:
                errors["bidang"] = _l("Choose at most 6 fields.")
            elif unknown:
                errors["bidang"] = _l("Unknown field: %(names)s.", names=", ".join(unknown[:5]))
            else:
                clean["bidang"] = slugs

    for key in ("founded_on", "sk_date"):
        if key in present:
            clean[key] = _parse_date(raw.get(key), key, errors)
    if "sk_valid_until" in present:
        clean["sk_valid_until"] = _parse_valid_until(raw.get("sk_valid_until"), clean.get("sk_date"), errors)
    if "pengurus" in present:
        clean["pengurus"] = _parse_pengurus(raw.get("pengurus"), errors)

    if "whatsapp" in present:
        try:
            clean["whatsapp"] = normalise_whatsapp(raw.get("whatsapp") if isinstance(raw.get("whatsapp"), str) else None)
        except AccountError as error:
            errors["whatsapp"] = error.message
    if "email" in present:
        value = raw.get("email")
        value = normalise_email(value) if isinstance(value, str) else ""
        if value and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value) or len(value) > 254:
            errors["email"] = _l("Enter a valid email address.")
        else:
            clean["email"] = value or None

    if "socials" in present:
        value = raw.get("socials") or {}
        if not isinstance(value, dict):
            errors["socials"] = _l("Give social accounts as platform and address.")
        else:
            socials = {}
            for platform, url in value.items():
                if platform not in SOCIAL_HOSTS:
                    errors[f"socials.{platform}"] = _l("Unknown platform.")
                elif url in (None, ""):
                    continue
                elif not isinstance(url, str) or len(url) > 300:
                    errors[f"socials.{platform}"] = _l("Enter the address of the account.")
                else:
                    try:
                        socials[platform] = validate_social_url(platform, url)
                    except ValueError:
                        errors[f"socials.{platform}"] = _l(
                            "This is not an address of a %(platform)s account.", platform=platform.title())
            clean["socials"] = socials

    clean_place_input(raw, present, errors, clean, desa_required=True)
    if errors:
        raise KimError(_l("Some fields need attention."), fields=errors)
    return clean


def _check_location(desa_code: str, lat: float | None, lon: float | None) -> None:
    """The KIM's place on the map (regions.places.check_location), refused as a KimError."""
    try:
        check_location(desa_code, lat, lon)
    except PlaceError as error:
        raise KimError(error.message, fields=error.fields) from None


def similar_kims(name: str, desa_code: str, exclude_id: int | None = None, limit: int = 5) -> list[Kim]:
    """KIMs in the same desa whose names look alike (trigram similarity), for the duplicate guard."""
    if not name or not desa_code:
        return []
    stmt = (
        select(Kim)
        .where(Kim.desa_code == desa_code, func.similarity(Kim.name, name) > 0.35)
        .order_by(func.similarity(Kim.name, name).desc())
        .limit(limit)
    )
    if exclude_id:
        stmt = stmt.where(Kim.id != exclude_id)
    return list(db.session.scalars(stmt.options(selectinload(Kim.memberships))))


@dataclass
class LookAlikes:
    """What the duplicate guard may tell a viewer: the look-alike KIMs they may see, and only
    whether others (drafts, submissions of other groups) with a similar name exist in the desa."""
    visible: list
    others_being_registered: bool

    def __bool__(self) -> bool:
        return bool(self.visible) or self.others_being_registered


def look_alikes_for(viewer, name: str, desa_code: str, exclude_id: int | None = None) -> LookAlikes:
    """similar_kims split by the KIM visibility rule: no link, id or status of a KIM the viewer
    may not see (another group's private draft)."""
    return _split_look_alikes(viewer, similar_kims(name, desa_code, exclude_id=exclude_id))


def look_alikes_of_page(viewer, kims: list[Kim], limit: int = 5) -> dict[int, LookAlikes]:
    """look_alikes_for of every KIM of a page (the verification queue), in one trigram query:
    for each KIM, up to `limit` other KIMs of its desa with a similar name, most alike first."""
    found: dict[int, list[Kim]] = {kim.id: [] for kim in kims}
    if found:
        source, candidate = aliased(Kim), aliased(Kim)
        score = func.similarity(candidate.name, source.name)
        alike = (select(candidate.id.label("id"), score.label("score"))
                 .where(candidate.desa_code == source.desa_code, score > 0.35, candidate.id != source.id)
                 .order_by(score.desc(), candidate.id).limit(limit).correlate(source).lateral())
        rows = db.session.execute(
            select(source.id, Kim).select_from(source).join(alike, true()).join(Kim, Kim.id == alike.c.id)
            .where(source.id.in_(found)).order_by(source.id, alike.c.score.desc(), Kim.id)
            .options(selectinload(Kim.memberships)))
        for source_id, kim in rows:
            found[source_id].append(kim)
    return {kim_id: _split_look_alikes(viewer, alikes) for kim_id, alikes in found.items()}


def _split_look_alikes(viewer, found: list[Kim]) -> LookAlikes:
    visible = [kim for kim in found if permissions.can_view_kim(viewer, kim)]
    return LookAlikes(visible=visible, others_being_registered=len(visible) < len(found))


def _slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60] or "kim"
    return slug


def _unique_slug(name: str) -> str:
    base = _slugify(name)
    # Random suffix: unique without a race between two registrations of the same name.
    return f"{base}-{secrets.token_hex(3)}"


JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I; 32 letters
JOIN_CODE_LENGTH = 8
_JOIN_CODE_TABLE = bytes(ord(JOIN_CODE_ALPHABET[b % 32]) for b in range(256))  # 256 % 32 == 0: uniform


def _new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def random_join_codes(count: int, taken=()) -> list[str]:
    """`count` distinct random join codes (the real format), none of them in `taken`.

    For bulk loads (the demo generator): one call to the system's random source, translated."""
    taken = set(taken)
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < count:
        missing = count - len(codes)
        raw = secrets.token_bytes(missing * JOIN_CODE_LENGTH).translate(_JOIN_CODE_TABLE).decode("ascii")
        for i in range(0, len(raw), JOIN_CODE_LENGTH):
            code = raw[i:i + JOIN_CODE_LENGTH]
            if code not in seen and code not in taken:
                seen.add(code)
                codes.append(code)
    return codes


def _point_wkt(lat: float, lon: float) -> str:
    return f"SRID=4326;POINT({lon} {lat})"


def _snapshot(kim: Kim) -> dict:
    coordinates = db.session.execute(select(func.ST_Y(Kim.point), func.ST_X(Kim.point)).where(Kim.id == kim.id)).first() \
        if kim.id else None
    return {
        "name": kim.name, "bidang": list(kim.bidang or []), "desa_code": kim.desa_code,
        "lat": coordinates[0] if coordinates else None, "lon": coordinates[1] if coordinates else None,
        "address": kim.address, "founded_on": kim.founded_on.isoformat() if kim.founded_on else None,
        "sk_number": kim.sk_number, "sk_issuer": kim.sk_issuer,
        "sk_date": kim.sk_date.isoformat() if kim.sk_date else None, "description": kim.description,
        "sk_valid_until": kim.sk_valid_until.isoformat() if kim.sk_valid_until else None,
        "pengurus": {m.position: m.user_id for m in kim.memberships if m.position},
        "whatsapp": kim.whatsapp, "email": kim.email, "socials": dict(kim.socials or {}), "status": kim.status,
    }


def _diff(before: dict, after: dict) -> tuple[dict, dict]:
    changed = [key for key in after if before.get(key) != after.get(key)]
    return {k: before.get(k) for k in changed}, {k: after.get(k) for k in changed}


def _audit(actor, action: str, kim: Kim, before=None, after=None) -> None:
    record(actor, action, "kim", kim.id, scope_code=kim.desa_code, before=before, after=after)


def authorise(actor, allowed: bool, kim: Kim | None, message, error: type[DomainError] = KimError) -> None:
    """Refuse a write `actor` may not do (`allowed` from kim_platform.permissions): 404 for a KIM
    they may not see, as its routes answer, else 403 with `message`. Every write service of
    KIMs and reports calls this before looking at its input; a report's passes its own `error`."""
    status = permissions.refusal(allowed, visible=kim is None or permissions.can_view_kim(actor, kim))
    if status == 404:
        raise error(_l("No such KIM."), status=404)
    if status:
        raise error(message, status=status)


# --- creating and editing --------------------------------------------------------------

def check_daily_cap(actor, setting: str, done_since, message, error: type[DomainError] = KimError) -> None:
    """Per-account caps against spam from a stolen or scripted account (the direktorat is exempt).

    `done_since(since)` is a count query of the actor's actions since then; `message(cap)` the
    refusal, raised as `error` with 429."""
    from flask import current_app

    if permissions.is_direktorat(actor):
        return
    cap = current_app.config[setting]
    if db.session.scalar(done_since(utcnow() - timedelta(days=1))) >= cap:
        raise error(message(cap), status=429)


def _check_daily_cap(actor) -> None:
    """KIMs this account registered itself (its kim.create audit entries): becoming ketua by an
    accepted invitation or a role change is no registration and counts for nothing."""
    from kim_platform.audit.models import AuditEntry

    check_daily_cap(
        actor, "MAX_KIMS_PER_DAY",
        lambda since: select(func.count()).select_from(AuditEntry).where(
            AuditEntry.actor_id == actor.id, AuditEntry.action == "kim.create", AuditEntry.at >= since),
        lambda cap: _l("You have registered %(n)d KIMs in the last 24 hours, the most allowed. Please continue "
                       "tomorrow.", n=cap))


def create_kim(actor, raw: dict, *, confirmed: bool = False) -> Kim:
    """A new draft KIM; the registrant (a person) becomes its ketua.

    The input is judged before anything is looked up (a list of a thousand bidang costs no
    query); then the daily cap, the place on the map and the duplicate-name guard: look-alikes in
    the desa refuse with PossibleDuplicate unless the registrant `confirmed` theirs is another group."""
    authorise(actor, permissions.can_register_kim(actor), None, _l("Log in to register a KIM."))
    values = clean_kim_input(raw)
    _check_daily_cap(actor)
    _check_location(values["desa_code"], values["lat"], values["lon"])
    if not confirmed:
        look_alikes = look_alikes_for(actor, values["name"], values["desa_code"])
        if look_alikes:
            raise PossibleDuplicate(look_alikes)
    lat, lon = values.pop("lat"), values.pop("lon")
    pengurus = values.pop("pengurus", None)
    values["socials"] = values.get("socials") or {}
    kim = Kim(**values, point=_point_wkt(lat, lon), status=KimStatus.DRAFT, slug=_unique_slug(values["name"]),
              join_code=_new_join_code(), data_confirmed_at=utcnow())
    db.session.add(kim)
    db.session.flush()
    db.session.add(Membership(user_id=actor.id, kim_id=kim.id, role=KETUA))
    db.session.flush()
    db.session.refresh(kim)
    if pengurus:
        _set_pengurus(kim, pengurus)
    _audit(actor, "kim.create", kim, after=_snapshot(kim))
    return kim


def update_kim(actor, kim: Kim, raw: dict) -> Kim:
    """Change fields. Moving a KIM is limited to the editor's scope, and a verified KIM that
    moves to another kabupaten/kota goes back to that region's pembina for verification."""
    authorise(actor, permissions.can_edit_kim(actor, kim), kim, _l("You may not edit this KIM."))
    values = clean_kim_input(raw, partial=True)
    before = _snapshot(kim)
    desa_code = values.get("desa_code", kim.desa_code)
    moved_kabupaten = kabupaten_of(desa_code) != kim.kabupaten_code
    if desa_code != kim.desa_code and not permissions.is_kim_manager(actor, kim) \
            and not permissions.in_scope(actor, desa_code):
        raise KimError(_l("You may only move a KIM within your own region."),
                       fields={"desa_code": _l("This desa/kelurahan is outside your region.")}, status=403)
    if {"desa_code", "lat", "lon"} & set(values):
        lat = values.get("lat", before["lat"])
        lon = values.get("lon", before["lon"])
        _check_location(desa_code, lat, lon)
        kim.point = _point_wkt(lat, lon)
    values.pop("lat", None)
    values.pop("lon", None)
    pengurus = values.pop("pengurus", None)
    for key, value in values.items():
        setattr(kim, key, value if key != "socials" else (value or {}))
    if pengurus:
        _set_pengurus(kim, pengurus)
    if moved_kabupaten and kim.status == KimStatus.VERIFIED:
        kim.status = KimStatus.SUBMITTED
        kim.submitted_at = utcnow()
    kim.updated_at = utcnow()
    db.session.flush()
    changed_before, changed_after = _diff(before, _snapshot(kim))
    if changed_after:
        if permissions.is_kim_manager(actor, kim):
            kim.data_confirmed_at = kim.updated_at  # its admins edited it: the data is theirs again
        _audit(actor, "kim.update", kim, before=changed_before, after=changed_after)
    return kim


def _set_pengurus(kim: Kim, pengurus: dict) -> None:
    """Name the pengurus among the KIM's members: each position held by at most one member (the
    one named now), a member holding at most one position."""
    by_user = {m.user_id: m for m in kim.memberships}
    errors = {f"pengurus.{position}": _l("Choose a member of the KIM.")
              for position, user_id in pengurus.items() if user_id is not None and user_id not in by_user}
    named = [user_id for user_id in pengurus.values() if user_id is not None]
    if len(named) != len(set(named)):
        errors["pengurus"] = _l("A member holds one position at most.")
    if errors:
        raise KimError(_l("Some fields need attention."), fields=errors)
    for membership in kim.memberships:
        if membership.position in pengurus or membership.user_id in named:
            membership.position = None
    db.session.flush()  # the old holders first: one holder per position (a unique index)
    for position, user_id in pengurus.items():
        if user_id is not None:
            by_user[user_id].position = position
    db.session.flush()


def set_files(actor, kim: Kim, logo: bytes | None = None, sk_file: bytes | None = None) -> None:
    """The logo and the SK scan of one form: both judged from their headers (size, format,
    pixels each and together) before either image is decoded."""
    authorise(actor, permissions.can_edit_kim(actor, kim), kim, _l("You may not edit this KIM."))
    errors, pixels = {}, []
    for field, data, max_bytes in (("logo", logo, LOGO_MAX_BYTES), ("sk_file", sk_file, SK_MAX_BYTES)):
        if data is None or (field == "sk_file" and data[:5] == b"%PDF-"):
            continue
        try:
            pixels.append(image_pixels(data, max_bytes))
        except UploadError as error:
            errors[field] = error.message
    if not errors:
        try:
            check_pixel_budget(pixels)
        except UploadError as error:
            errors = {field: error.message for field, data in (("logo", logo), ("sk_file", sk_file)) if data}
    if errors:
        raise KimError(_l("Some fields need attention."), fields=errors)
    if logo is not None:
        set_logo(actor, kim, logo)
    if sk_file is not None:
        set_sk_file(actor, kim, sk_file)


def set_logo(actor, kim: Kim, data: bytes) -> None:
    authorise(actor, permissions.can_edit_kim(actor, kim), kim, _l("You may not edit this KIM."))
    try:
        clean = reencode_image(data, max_side=512, max_bytes=LOGO_MAX_BYTES)
    except UploadError as error:
        raise KimError(error.message, fields={"logo": error.message}) from None
    old = kim.logo_key
    kim.logo_key = save_in_transaction(db.session, clean, ".webp")
    delete_after_commit(db.session, old)
    _audit(actor, "kim.logo", kim, before={"logo": bool(old)}, after={"logo": True})


def set_sk_file(actor, kim: Kim, data: bytes) -> None:
    """The SK scan: a PDF kept as is, or an image re-encoded without metadata."""
    authorise(actor, permissions.can_edit_kim(actor, kim), kim, _l("You may not edit this KIM."))
    try:
        if data[:5] == b"%PDF-":
            stored, suffix = check_pdf(data, SK_MAX_BYTES), ".pdf"
        else:
            stored, suffix = reencode_image(data, max_side=2400, max_bytes=SK_MAX_BYTES, fmt="JPEG"), ".jpg"
    except UploadError as error:
        raise KimError(error.message, fields={"sk_file": error.message}) from None
    old = kim.sk_file_key
    if old and db.session.scalar(select(func.count()).where(KimSkVersion.file_key == old)) == 0:
        db.session.add(KimSkVersion(kim_id=kim.id, file_key=old))  # uploaded before versions were kept
    kim.sk_file_key = save_in_transaction(db.session, stored, suffix)
    # A new SK is a new version: the old one and its file stay in the history (private, as the SK).
    db.session.add(KimSkVersion(kim_id=kim.id, sk_number=kim.sk_number, sk_issuer=kim.sk_issuer,
                                sk_date=kim.sk_date, valid_until=kim.sk_valid_until, file_key=kim.sk_file_key,
                                uploaded_by_id=actor.id if permissions.is_person(actor) else None))
    db.session.flush()
    _audit(actor, "kim.sk_file", kim, before={"sk_file": bool(old)}, after={"sk_file": True})


# --- the status machine ------------------------------------------------------------------

TRANSITIONS = {
    # action: (allowed from, to)
    "submit": (set(KimStatus.SUBMITTABLE), KimStatus.SUBMITTED),
    "verify": ({KimStatus.SUBMITTED}, KimStatus.VERIFIED),
    "reject": ({KimStatus.SUBMITTED}, KimStatus.REJECTED),
    "deactivate": ({KimStatus.VERIFIED}, KimStatus.INACTIVE),
    "reactivate": ({KimStatus.INACTIVE}, KimStatus.VERIFIED),
}
PERMISSION_FOR = {
    "submit": permissions.can_submit_kim,
    "verify": permissions.can_verify_kim,
    "reject": permissions.can_verify_kim,
    "deactivate": permissions.can_deactivate_kim,
    "reactivate": permissions.can_verify_kim,
}


def next_number(kabupaten_code: str) -> str:
    """KIM-76.02-0001, KIM-76.02-0002, …: one counter per kabupaten/kota, atomic, never reused."""
    value = db.session.scalar(text(
        "INSERT INTO kim_number_sequence (kabupaten_code, last_value) VALUES (:code, 1) "
        "ON CONFLICT (kabupaten_code) DO UPDATE SET last_value = kim_number_sequence.last_value + 1 "
        "RETURNING last_value"), {"code": kabupaten_code})
    return f"KIM-{kabupaten_code}-{value:04d}"


def change_status(actor, kim: Kim, action: str, reason: str | None = None) -> Kim:
    """Apply one transition of the status machine, checking who may and from where."""
    if action not in TRANSITIONS:
        raise KimError(_l("Unknown action."), status=400)
    authorise(actor, PERMISSION_FOR[action](actor, kim), kim, _l("You may not do this for this KIM."))
    sources, target = TRANSITIONS[action]
    if kim.status not in sources:
        raise KimError(_l("This KIM is %(status)s; that cannot be done now.", status=STATUS_LABELS[kim.status]),
                       status=409)
    if action == "reject":
        reason = (reason or "").strip()
        if len(reason) < 5:
            raise KimError(_l("Give the reason for the rejection."), fields={"reason": _l("Give a reason.")})
        if text_problem(reason, multiline=True):
            raise KimError(_l("Some fields need attention."), fields={"reason": text_problem(reason, multiline=True)})
        kim.rejection_reason = reason[:2000]
    before = {"status": kim.status, "number": kim.number}
    kim.status = target
    now = utcnow()
    if action == "submit":
        kim.submitted_at = now
    if action == "verify":
        kim.verified_at = now
        kim.verified_by_id = actor.id
        kim.rejection_reason = None
        if kim.number is None:
            kim.number = next_number(kim.kabupaten_code)
    kim.updated_at = now
    db.session.flush()
    after = {"status": kim.status, "number": kim.number}
    if action == "reject":
        after["reason"] = kim.rejection_reason
    _audit(actor, f"kim.{action}", kim, before=before, after=after)
    return kim


# --- members ---------------------------------------------------------------------------------

def _managers(kim: Kim) -> list[Membership]:
    return [m for m in kim.memberships if m.role in MANAGER_ROLES]


def add_member(actor, kim: Kim, user, role: str = ANGGOTA, *, invitation: KimInvitation | None = None,
               join_code: str | None = None) -> Membership:
    """Make `user` a member with `role`, or give an existing member that role.

    Nobody becomes a member without consent (permissions.can_add_member): a person adds
    themself with an open invitation of this KIM (its role) or with the KIM's join code (as
    anggota; an existing member keeps their role); the system actor adds anyone."""
    authorise(actor, permissions.can_add_member(actor, kim, user, role, invitation=invitation, join_code=join_code,
                                                now=utcnow()), None, _l("You may not add this member."))
    if role not in MEMBER_ROLES:
        raise KimError(_l("Unknown role."), fields={"role": _l("Unknown role.")})
    existing = next((m for m in kim.memberships if m.user_id == user.id), None)
    if existing:
        if existing.role != role and join_code is None:
            _change_role(actor, kim, existing, role)
        return existing
    membership = Membership(user_id=user.id, kim_id=kim.id, role=role)
    kim.memberships.append(membership)
    db.session.flush()
    _audit(actor, "kim.member_add", kim, after={"user_id": user.id, "role": role})
    return membership


def set_member_role(actor, kim: Kim, membership: Membership, role: str) -> None:
    """Change a member's role (the KIM's ketua/admins, the directorate)."""
    authorise(actor, permissions.can_manage_members(actor, kim), kim,
              _l("Only the KIM's ketua and admins manage its members."))
    _change_role(actor, kim, membership, role)


def _change_role(actor, kim: Kim, membership: Membership, role: str) -> None:
    if role not in MEMBER_ROLES:
        raise KimError(_l("Unknown role."), fields={"role": _l("Unknown role.")})
    if membership.role in MANAGER_ROLES and role == ANGGOTA and len(_managers(kim)) <= 1:
        raise KimError(_l("A KIM needs at least one ketua or admin."), status=409)
    before = membership.role
    membership.role = role
    db.session.flush()
    _audit(actor, "kim.member_role", kim, before={"user_id": membership.user_id, "role": before},
           after={"user_id": membership.user_id, "role": role})


def remove_member(actor, kim: Kim, membership: Membership) -> None:
    """Anyone leaves; the KIM's ketua/admins (and the directorate) remove others."""
    authorise(actor, permissions.can_remove_member(actor, membership), kim,
              _l("Only the KIM's ketua and admins manage its members."))
    if membership.role in MANAGER_ROLES and len(_managers(kim)) <= 1:
        raise KimError(_l("A KIM needs at least one ketua or admin."), status=409)
    kim.memberships.remove(membership)
    db.session.flush()
    _audit(actor, "kim.member_remove", kim, before={"user_id": membership.user_id, "role": membership.role})


INVITATION_DAYS = 14


def invite_member(actor, kim: Kim, email: str, role: str = ANGGOTA) -> KimInvitation:
    """Create or refresh a pending invitation for an address; never a membership.

    The same happens whether or not the address has an account (and whether or not it belongs
    to a member already), so the inviter learns nothing about it; its owner answers."""
    authorise(actor, permissions.can_manage_members(actor, kim), kim,
              _l("Only the KIM's ketua and admins manage its members."))
    email = normalise_email(email)
    if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email) or len(email) > 254:
        raise KimError(_l("Enter a valid email address."), fields={"email": _l("Enter a valid email address.")})
    if role not in MEMBER_ROLES:
        raise KimError(_l("Unknown role."), fields={"role": _l("Unknown role.")})
    invitation = db.session.scalar(select(KimInvitation).where(KimInvitation.kim_id == kim.id,
                                                                KimInvitation.email == email))
    if invitation is None:
        invitation = KimInvitation(kim_id=kim.id, email=email)
        db.session.add(invitation)
    now = utcnow()
    invitation.role = role
    invitation.invited_by_id = actor.id
    invitation.status = InvitationStatus.PENDING
    invitation.created_at = now
    invitation.expires_at = now + timedelta(days=INVITATION_DAYS)
    invitation.answered_at = None
    db.session.flush()
    _audit(actor, "kim.member_invite", kim, after={"email": email, "role": role})
    return invitation


def invitation_token(invitation: KimInvitation) -> str:
    """The signed reference in the mailed link (it names the invitation; only its owner may act)."""
    from flask import current_app
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="kim-invitation").dumps(invitation.id)


def invitation_id_from_token(token: str) -> int | None:
    from flask import current_app
    from itsdangerous import BadSignature, URLSafeSerializer

    try:
        value = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="kim-invitation").loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def answerable_invitation(user, invitation_id: int | None) -> KimInvitation | None:
    """The invitation if `user` may answer it (its address's verified owner), else None (404)."""
    if invitation_id is None:
        return None
    invitation = db.session.get(KimInvitation, invitation_id)
    if invitation is None or not permissions.can_answer_invitation(user, invitation):
        return None
    return invitation


def invitation_is_open(invitation: KimInvitation) -> bool:
    return invitation.status == InvitationStatus.PENDING and invitation.expires_at > utcnow()


def _check_open(invitation: KimInvitation) -> None:
    if invitation.status != InvitationStatus.PENDING:
        raise KimError(_l("You have already answered this invitation."), status=409)
    if invitation.expires_at <= utcnow():
        raise KimError(_l("This invitation has expired. Ask the KIM to invite you again."), status=409)


def accept_invitation(user, invitation: KimInvitation) -> Membership:
    """The invitee joins with the offered role (or takes it, if already a member)."""
    if not permissions.can_answer_invitation(user, invitation):
        raise KimError(_l("No such invitation."), status=404)
    _check_open(invitation)
    membership = add_member(user, invitation.kim, user, invitation.role, invitation=invitation)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.answered_at = utcnow()
    db.session.flush()
    _audit(user, "kim.invitation_accept", invitation.kim,
           after={"invitation_id": invitation.id, "user_id": user.id, "role": invitation.role})
    return membership


def decline_invitation(user, invitation: KimInvitation) -> None:
    if not permissions.can_answer_invitation(user, invitation):
        raise KimError(_l("No such invitation."), status=404)
    _check_open(invitation)
    invitation.status = InvitationStatus.DECLINED
    invitation.answered_at = utcnow()
    db.session.flush()
    _audit(user, "kim.invitation_decline", invitation.kim,
           after={"invitation_id": invitation.id, "user_id": user.id, "role": invitation.role})


def join_by_code(user, code: str) -> Kim:
    """A person joins the KIM whose join code they were given (the code is the consent of its
    ketua); a member stays as they are."""
    authorise(user, permissions.is_person(user), None, _l("Log in to join a KIM."))
    kim = db.session.scalar(select(Kim).where(Kim.join_code == (code or "").strip().upper()))
    if kim is None:
        raise KimError(_l("No KIM has this join code."), fields={"code": _l("No KIM has this join code.")},
                       status=404)
    if permissions.kim_role(user, kim) is None:
        add_member(user, kim, user, ANGGOTA, join_code=kim.join_code)
    return kim


def new_join_code(actor, kim: Kim) -> str:
    """A fresh join code (the old one stops working): the KIM's ketua/admins, the directorate."""
    authorise(actor, permissions.can_manage_members(actor, kim), kim,
              _l("Only the KIM's ketua and admins manage its members."))
    kim.join_code = _new_join_code()
    _audit(actor, "kim.join_code", kim)
    return kim.join_code


# --- the bidang taxonomy ----------------------------------------------------------------------

def create_bidang(actor, data: dict) -> Bidang:
    """Add a bidang (the directorate): `slug`, `name_id`, `name_en`, optional `parent_slug`,
    already checked for shape by the caller's schema."""
    authorise(actor, permissions.can_create_bidang(actor), None, _l("Only the directorate extends the taxonomy."))
    if db.session.get(Bidang, data["slug"]) is not None:
        raise KimError(_l("This bidang exists already."), status=409)
    if data.get("parent_slug") and db.session.get(Bidang, data["parent_slug"]) is None:
        raise KimError(_l("Unknown parent bidang."), fields={"parent_slug": _l("Unknown parent bidang.")})
    bidang = Bidang(**data, sort=100)
    db.session.add(bidang)
    db.session.flush()
    record(actor, "bidang.create", "bidang", bidang.slug, after=data)
    return bidang

