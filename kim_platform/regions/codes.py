"""Kemendagri region codes: parsing and the nesting rules that every roll-up relies on.

`73.71.01.1001` is a kelurahan inside kecamatan `73.71.01`, kabupaten/kota `73.71` and
provinsi `73`, so ancestors are prefixes and descendants are a prefix match on the code.
"""
import re
import unicodedata

LEVELS = ("provinsi", "kabupaten", "kecamatan", "desa")
# Segment count of a code at each level.
LEVEL_DEPTH = {name: depth for depth, name in enumerate(LEVELS, start=1)}
# Characters of a code at each level (`73`, `73.71`, `73.71.01`, `73.71.01.1001`): the prefix
# length of an ancestor, in Python and in SQL (`left(code, width)`).
LEVEL_WIDTH = {"provinsi": 2, "kabupaten": 5, "kecamatan": 8, "desa": 13}
KINDS = ("provinsi", "kabupaten", "kota", "kecamatan", "desa", "kelurahan")

CODE_RE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
_PREFIXES = ("kabupaten administrasi ", "kota administrasi ", "kabupaten ", "kota ")


def is_valid_code(code: str) -> bool:
    return bool(code) and CODE_RE.match(code) is not None


def level_of(code: str) -> str:
    """Level from the number of segments; the caller has validated the code."""
    return LEVELS[code.count(".")]


def parent_of(code: str) -> str | None:
    return code.rsplit(".", 1)[0] if "." in code else None


def ancestor_at(code: str, level: str) -> str:
    """The code of the region at `level` that contains `code` (a code at that level or below)."""
    return code[:LEVEL_WIDTH[level]]


def province_of(code: str) -> str:
    return ancestor_at(code, "provinsi")


def kabupaten_of(code: str) -> str:
    return ancestor_at(code, "kabupaten")


def kecamatan_of(code: str) -> str:
    return ancestor_at(code, "kecamatan")


def ancestor_codes(code: str) -> list[str]:
    """Codes of every region above `code`, nearest first."""
    ancestors = []
    parent = parent_of(code)
    while parent:
        ancestors.append(parent)
        parent = parent_of(parent)
    return ancestors


def descendant_pattern(code: str) -> str:
    """LIKE pattern matching every region below `code` (the code has only digits and dots)."""
    return code + ".%"


def kind_from_code(code: str) -> str:
    """Kind implied by the code itself (Permendagri 58/2021 and the 01–69/71–99 rule)."""
    level = level_of(code)
    if level == "kabupaten":
        return "kota" if int(code[3:5]) >= 71 else "kabupaten"
    if level == "desa":
        return "kelurahan" if code[9] == "1" else "desa"
    return level


def normalise_name(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form used for search (and its trigram index)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = re.sub(r"[^0-9a-z]+", " ", stripped.casefold())
    return " ".join(folded.split())


def short_name(normalised: str) -> str:
    """The name without its Kabupaten/Kota prefix, for exact-match ranking."""
    for prefix in _PREFIXES:
        if normalised.startswith(prefix):
            return normalised[len(prefix):]
    return normalised
