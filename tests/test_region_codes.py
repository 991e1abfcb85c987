"""Region-level helpers: one definition of how wide a code is at each level (issue 15)."""
from kim_platform.regions.codes import (
    LEVEL_WIDTH,
    LEVELS,
    ancestor_at,
    ancestor_codes,
    kabupaten_of,
    kecamatan_of,
    level_of,
    province_of,
)

DESA = "73.71.01.1001"


def test_each_level_has_its_width_and_the_helpers_cut_there():
    assert list(LEVEL_WIDTH) == list(LEVELS)
    assert (province_of(DESA), kabupaten_of(DESA), kecamatan_of(DESA)) == ("73", "73.71", "73.71.01")
    assert ancestor_at(DESA, "desa") == DESA and kabupaten_of("73.71") == "73.71"
    # The helpers agree with the codes' own nesting.
    assert [ancestor_at(DESA, level) for level in reversed(LEVELS[:-1])] == ancestor_codes(DESA)
    for code in (DESA, *ancestor_codes(DESA)):
        assert len(code) == LEVEL_WIDTH[level_of(code)]

