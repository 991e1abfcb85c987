"""Writes from phones may arrive twice (DESIGN.md): the offline outbox's contract with the server,
defined once for every kind of entry it sends (activity reports, aspirations).

The client chooses an `Idempotency-Key` (its UUID of the entry) and sends the same body again after
a drop. The server keeps the key and a canonical hash of the parsed body with the row it created,
unique per author: the same key and body answers that row, the same key with another body 409.
Concurrent requests with one key wait on one transaction-scoped advisory lock, and the unique
constraint decides any race left. Photos follow one by one, each with its own key.
"""
import hashlib
import json
import re
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from kim_platform.core.clock import utcnow
from kim_platform.core.domain import DomainError
from kim_platform.extensions import db

MAX_KEY_LENGTH = 64
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
KEY_MESSAGE = _l("The Idempotency-Key must be 1 to 64 letters, digits, - or _.")

# A device time outside this window is a wrong device clock (a phone reset to 1970, a typo'd year):
# the entry is kept, its device time is not. Refusing it would strand the entry in the outbox with
# nothing the volunteer can fix, and years out of range break reading the row back (BC, year 10000).
DEVICE_TIME_PAST = timedelta(days=2 * 366)
DEVICE_TIME_AHEAD = timedelta(days=1)


def check_key(key, error=DomainError) -> str:
    """A client key as sent (header `Idempotency-Key`), else a 400."""
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise error(KEY_MESSAGE, status=400)
    return key


def header_key(request, required: bool = False, error=DomainError) -> str | None:
    """The request's `Idempotency-Key` header (1-64 of [A-Za-z0-9_-]); a bad or missing required one is a 400."""
    value = request.headers.get("Idempotency-Key")
    if value is None and not required:
        return None
    return check_key(value, error)


def normalised(value):
    """A parsed field as the fingerprint sees it: 5 and "5", " x" and "x", "" and absent alike."""
    if isinstance(value, (list, tuple)):
        return [normalised(v) for v in value]
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return {str(k): normalised(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    text = str(value).strip()
    return text or None


def fingerprint(owner, raw: dict, written_at, photo_count, photos=(), **extra) -> str:
    """The canonical hash of an entry's parsed input: what "the same body" means for a replay.
    `owner` is what the entry is written for (a KIM id), `extra` anything else that changes the
    outcome (a report's action)."""
    fields = {k: normalised(v) for k, v in raw.items()}
    body = {
        "kim": owner, **{k: normalised(v) for k, v in extra.items()},
        "fields": {k: v for k, v in sorted(fields.items()) if v not in (None, [])},
        "written_at": normalised(written_at), "photo_count": normalised(photo_count) or "0",
        "photos": [hashlib.sha256(data).hexdigest() for data in photos],
    }
    # ASCII escapes: a lone surrogate in the JSON body (valid JSON, not UTF-8) hashes instead of raising.
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def device_time(written_at, errors: dict) -> datetime | None:
    """The device time (ISO 8601 with its offset) in UTC; None when not given or implausible."""
    if written_at in (None, ""):
        return None
    message = _l("Give the time as ISO 8601 with its offset, e.g. 2026-05-01T08:30:00+08:00.")
    try:
        when = datetime.fromisoformat(str(written_at).strip())
    except ValueError:
        errors["written_at"] = message
        return None
    if when.tzinfo is None or when.utcoffset() is None:
        errors["written_at"] = message
        return None
    now = utcnow()
    try:
        when = when.astimezone(now.tzinfo)
    except (OverflowError, ValueError):
        return None
    return when if now - DEVICE_TIME_PAST <= when <= now + DEVICE_TIME_AHEAD else None


def photo_count(value, maximum: int, errors: dict) -> int:
    """How many photos follow one by one (0..maximum)."""
    if value in (None, ""):
        return 0
    try:
        count = int(str(value).strip()) if not isinstance(value, (bool, float)) else -1
    except ValueError:
        count = -1
    if not 0 <= count <= maximum:
        errors["photo_count"] = _l("Enter a whole number from 0 to %(n)d.", n=maximum)
        return 0
    return count


def lock(namespace: str, author_id: int, key: str) -> None:
    """Serialise the requests of one author with one key until the first one commits."""
    db.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"{namespace}:{author_id}:{key}", 0))))


def replay(entity, author_id: int, key: str, digest: str, message, error=DomainError):
    """The row an earlier request with this author and key created (a replay), None for a new key;
    another body under the key is refused with 409 `idempotency_conflict`. Call after lock()."""
    earlier = db.session.scalar(select(entity).where(entity.author_id == author_id, entity.idempotency_key == key))
    if earlier is not None and earlier.request_hash != digest:
        raise error(message, status=409, code="idempotency_conflict")
    return earlier
