"""A place (a desa code and a point inside its kabupaten/kota) is parsed and checked once, in
kim_platform.regions.places, for KIMs and reports alike (issue 15: a place is a region concern)."""
from datetime import timedelta

import pytest

from kim_platform.activities.services import ActivityError, create_activity
from kim_platform.core import clock
from kim_platform.kims.services import KimError, create_kim
from kim_platform.regions.places import PlaceError, check_location, clean_place_input, parse_coordinate
from tests.conftest import DESA, DESA_POINT

MAKASSAR = (-5.1354, 119.4238)  # in Indonesia, outside Kabupaten Mamuju


@pytest.fixture
def request_context(app):
    with app.test_request_context():
        yield


def test_a_point_inside_the_kabupaten_is_the_desa(request_context):
    assert check_location(DESA, *DESA_POINT).code == DESA


@pytest.mark.parametrize("desa_code, lat, lon, field", [
    ("76.02.01.9999", *DESA_POINT, "desa_code"),  # no such desa
    ("76.02.01", *DESA_POINT, "desa_code"),  # a kecamatan, not a desa
    (DESA, None, None, "lat"),  # no point
    (DESA, DESA_POINT[1], DESA_POINT[0], "lat"),  # swapped
    (DESA, 48.8566, 2.3522, "lat"),  # outside Indonesia
    (DESA, *MAKASSAR, "lat"),  # outside the desa's kabupaten
])
def test_check_location_refuses_with_the_field_to_fix(request_context, desa_code, lat, lon, field):
    with pytest.raises(PlaceError) as refused:
        check_location(desa_code, lat, lon)
    assert list(refused.value.fields) == [field] and refused.value.status == 422


def test_clean_place_input_checks_shapes_and_collects_errors(request_context):
    errors, clean = {}, {}
    raw = {"desa_code": " 76.02.01.1002 ", "lat": "-2,7492", "lon": 118.967345}
    clean_place_input(raw, set(raw), errors, clean, desa_required=True)
    assert (errors, clean) == ({}, {"desa_code": DESA, "lat": -2.7492, "lon": 118.967345})
    errors, clean = {}, {}
    raw = {"desa_code": "76.02", "lat": "utara", "lon": ""}
    clean_place_input(raw, set(raw), errors, clean, desa_required=True)
    assert set(errors) == {"desa_code", "lat"} and clean == {"lon": None}
    errors, clean = {}, {}
    clean_place_input({"desa_code": ""}, {"desa_code"}, errors, clean, desa_required=False)
    assert (errors, clean) == ({}, {})  # a report may leave its desa to the KIM's


def test_parse_coordinate_takes_numbers_and_decimal_commas():
    assert parse_coordinate("-2,68") == -2.68 and parse_coordinate(" 118.9 ") == 118.9 and parse_coordinate("") is None
    for bad in (True, "1e400", float("nan"), [1], "2,6,8"):
        with pytest.raises(ValueError):
            parse_coordinate(bad)


def test_kims_and_reports_refuse_a_misplaced_point_the_same_way(request_context, make_user, kim_with_member):
    kim, member, _ = kim_with_member
    with pytest.raises(KimError) as kim_refused:
        create_kim(make_user(), {"name": "KIM Salah Tempat", "bidang": ["literasi"], "desa_code": DESA,
                                 "lat": MAKASSAR[0], "lon": MAKASSAR[1]})
    with pytest.raises(ActivityError) as report_refused:
        create_activity(member, kim, {"title": "Sosialisasi", "date": (clock.today() - timedelta(days=400)).isoformat(), "late_reason": "arsip",
                                      "type": "diskusi", "lat": MAKASSAR[0], "lon": MAKASSAR[1]})
    for refused in (kim_refused.value, report_refused.value):
        assert refused.status == 422 and list(refused.fields) == ["lat"] and "Mamuju" in str(refused.fields["lat"])
