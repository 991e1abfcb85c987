"""Password hashing (argon2id) and the password policy (length and common passwords only).

No composition rules: NIST SP 800-63B and OWASP recommend length plus a block list.
"""
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 8
MAX_LENGTH = 128

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("timing-equaliser-not-a-password")

# Common in Indonesia and missing from the English-centric list.
_INDONESIAN_COMMON = {
    "indonesia", "indonesia1", "bismillah", "bismillah123", "sayang", "sayangku", "sayang123",
    "rahasia", "rahasia123", "merdeka", "merdeka45", "garuda", "jakarta", "jakarta123",
    "surabaya", "bandung", "makassar", "mamuju", "password123", "katasandi", "kata sandi",
    "kominfo", "komdigi", "kimindonesia", "desa1234", "kelurahan", "12345678", "123456789",
    "1234567890", "qwertyuiop", "asdfghjkl", "sulawesi", "sulawesibarat",
}


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most common passwords from public breach corpora.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"]) | _INDONESIAN_COMMON


def password_problem(password: str, email: str = "", name: str = ""):
    """A message saying why `password` is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return _l("Use at least %(min)d characters.", min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _l("Use at most %(max)d characters.", max=MAX_LENGTH)
    lowered = password.casefold()
    if lowered in _common_passwords() or lowered.strip() in _common_passwords():
        return _l("This password is too common and easy to guess. Choose another.")
    local_part = email.split("@", 1)[0].casefold()
    if len(local_part) >= 4 and lowered in (local_part, email.casefold()):
        return _l("The password must not be your email address.")
    if name and lowered == name.casefold():
        return _l("The password must not be your name.")
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-ish time whether or not there is a hash to check against."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
