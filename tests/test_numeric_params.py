"""Every numeric parameter of every page and API is bounded: huge, negative, fractional and
non-numeric values are clamped on pages and refused with 400 naming the field in the API;
nothing answers 5xx (`?page=99999999999999999999` used to be a 500 on /kim, /kegiatan,
/wilayah/76 and /teladan: an OFFSET beyond bigint)."""
import pytest

from kim_platform.core.pagination import MAX_PAGE, clamp_int
from tests.conftest import bearer, login

HOSTILE_NUMBERS = ["99999999999999999999", "-99999999999999999999", "-5", "0", "1.5", "1e309", "NaN",
                   "abc", "", " 7 ", "٣", "1_000", "0x10"]

# Not a value in range for any numeric parameter ("٣" is 3 to Python and allowed by the API).
NEVER_VALID = (HUGE := "99999999999999999999", "-" + HUGE, "1e309", "NaN", "abc", "0x10")

# (path, numeric parameters, who looks at it)
PAGES = [
    ("/kim", ["page"], None),
    ("/kegiatan", ["page"], None),
    ("/wilayah/76", ["page"], None),
    ("/wilayah/76.02", ["page"], None),
    ("/teladan", ["page"], None),
    ("/teladan?wilayah=76", ["page"], None),
    ("/verifikasi", ["page"], "pembina"),
    ("/moderasi", ["page"], "pembina"),
    ("/audit", ["page"], "direktorat"),
    ("/pengguna", ["page"], "direktorat"),
]
APIS = [
    ("/api/v1/regions", ["page", "per_page"], None),
    ("/api/v1/regions/76/children", ["page", "per_page"], None),
    ("/api/v1/kims", ["page", "per_page"], None),
    ("/api/v1/activities", ["page", "per_page", "kim"], None),
    ("/api/v1/coverage?level=kabupaten", ["window_days"], None),
    ("/api/v1/coverage/timeseries", ["months"], None),
    ("/api/v1/teladan", ["page", "limit"], None),
    ("/api/v1/map/region-at?lat=-2.7&lon=118.9", ["zoom"], None),
    ("/api/v1/map/region-at?lon=118.9&zoom=5", ["lat"], None),
    ("/api/v1/map/region-at?lat=-2.7&zoom=5", ["lon"], None),
    ("/api/v1/audit", ["page", "per_page"], "direktorat"),
    ("/api/v1/users", ["page", "per_page"], "direktorat"),
]
# Whole numbers in the path: Flask's int converter takes any length.
PATH_IDS = [f"/kegiatan/{HUGE}", f"/kegiatan/{HUGE}/ubah", f"/api/v1/kims/{HUGE}", f"/api/v1/kims/{HUGE}/members",
            f"/api/v1/kims/{HUGE}/score", f"/api/v1/activities/{HUGE}", f"/tiles/kims/{HUGE}/0/0.pbf",
            f"/tiles/regions/5/{HUGE}/{HUGE}.pbf", "/tiles/kims/-1/0/0.pbf", "/tiles/kims/5/-1/0.pbf"]


def _url(path: str, param: str, value: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{param}={value}"


@pytest.fixture
def viewers(app, make_user):
    """A client per kind of viewer: anonymous, pembina of 76.02 (pages by session), direktorat."""
    users = {"pembina": make_user(role="pembina", scope="76.02"), "direktorat": make_user(role="direktorat")}
    clients = {None: app.test_client()}
    for kind, user in users.items():
        clients[kind] = app.test_client()
        login(clients[kind], user)
    return clients, users


def test_clamp_int():
    assert clamp_int("42", 1, 1, 100) == 42
    assert clamp_int(HUGE, 1, 1, MAX_PAGE) == MAX_PAGE
    assert clamp_int("-" + HUGE, 1, 1, MAX_PAGE) == 1
    assert clamp_int("-5", 1, 1, MAX_PAGE) == 1
    assert clamp_int("+3", 1, 1, MAX_PAGE) == 3
    for junk in ("abc", "1.5", "1e3", "٣", "1_000", "", None, "-", " "):
        assert clamp_int(junk, 7, 1, MAX_PAGE) == 7


@pytest.mark.parametrize("path,params,who", PAGES)
def test_pages_clamp_numeric_parameters(viewers, path, params, who):
    clients, _ = viewers
    for param in params:
        for value in HOSTILE_NUMBERS:
            response = clients[who].get(_url(path, param, value))
            assert response.status_code == 200, (path, param, value, response.status_code)


def test_a_huge_page_number_is_the_last_allowed_page(client, make_kim):
    make_kim(name="KIM Halaman Satu")
    first = client.get("/kim?page=1").get_data(as_text=True)
    huge = client.get(f"/kim?page={HUGE}")
    assert "KIM Halaman Satu" in first
    assert huge.status_code == 200 and "KIM Halaman Satu" not in huge.get_data(as_text=True)


@pytest.mark.parametrize("path,params,who", APIS)
def test_api_refuses_out_of_range_numbers_with_400_naming_the_field(viewers, path, params, who):
    clients, users = viewers
    headers = bearer(users[who]) if who else {}
    for param in params:
        for value in HOSTILE_NUMBERS:
            response = clients[None].get(_url(path, param, value), headers=headers)
            assert response.status_code < 500, (path, param, value, response.status_code)
            if value in NEVER_VALID and param != "per_page":
                assert response.status_code == 400, (path, param, value, response.status_code)
                body = response.get_json()["error"]
                assert body["code"] and param in body["fields"], (path, param, value, body)
        # A huge per_page is capped, as documented; a negative one is refused.
        if param == "per_page":
            assert clients[None].get(_url(path, param, HUGE), headers=headers).status_code == 200
            assert clients[None].get(_url(path, param, "-5"), headers=headers).status_code == 400


@pytest.mark.parametrize("path", PATH_IDS)
def test_huge_ids_in_the_path_are_not_found_or_refused(viewers, path):
    clients, users = viewers
    response = clients["direktorat"].get(path)
    assert response.status_code in (400, 404), (path, response.status_code)
