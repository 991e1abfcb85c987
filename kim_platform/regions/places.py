"""A place: a desa code and a point inside that desa's kabupaten/kota.

KIMs and activity reports (and later campaigns and aspirations) are placed the same way, so the
parsing and the map check live here, next to the regions, and know nothing of what is placed.
`clean_place_input` checks shapes and collects field errors; `check_location` asks the map and
raises PlaceError, which each domain turns into its own error.
"""
import math

from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from kim_platform.extensions import db
from kim_platform.regions.codes import is_valid_code, kabupaten_of, level_of
from kim_platform.regions.models import Region

# Indonesia's extent (with its outer islands), for a first, cheap plausibility check.
INDONESIA_BOUNDS = (94.5, -11.5, 141.5, 6.5)  # minlon, minlat, maxlon, maxlat
# The boundaries are simplified to about 110 m, so points a little outside still count.
BOUNDARY_TOLERANCE_M = 500


class PlaceError(ValueError):
    """A place the map refuses. `fields` maps input names (desa_code, lat) to messages."""

    def __init__(self, fields: dict):
        self.message = _l("Some fields need attention.")
        super().__init__(str(self.message))
        self.fields = fields
        self.status = 422


def parse_coordinate(value) -> float | None:
    """Decimal degrees from a number or text; a decimal comma is accepted ("-2,68")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # a 400-digit integer in JSON
            raise ValueError from None
    elif not isinstance(value, str):
        raise ValueError
    else:
        text_value = value.strip().replace(" ", "")
        if text_value.count(",") == 1 and "." not in text_value:
            text_value = text_value.replace(",", ".")
        number = float(text_value)
    if not math.isfinite(number):
        raise ValueError
    return number


def clean_place_input(raw: dict, present: set, errors: dict, clean: dict, desa_required: bool) -> None:
    """desa_code, lat and lon of a KIM or a report: shapes only (check_location does the map)."""
    code = raw.get("desa_code")
    if "desa_code" in present and "desa_code" not in errors and (desa_required or code not in (None, "")):
        if not isinstance(code, str) or not is_valid_code(code.strip()) or level_of(code.strip()) != "desa":
            errors["desa_code"] = _l("Choose a desa/kelurahan.")
        else:
            clean["desa_code"] = code.strip()
    for key in ("lat", "lon"):
        if key in present and key not in errors:
            try:
                clean[key] = parse_coordinate(raw.get(key))
            except (TypeError, ValueError):
                errors[key] = _l("Enter a number in decimal degrees, e.g. -2.6801.")


def retired_code_message(region: Region):
    """Why a retired code cannot be written any more (None for a current one). Old codes resolve for
    reading and links; what is written now takes the current code: one message for every writer."""
    if region.retired_on is None:
        return None
    if region.replaced_by:
        return _l("This code is no longer in use: it was replaced by %(code)s.", code=region.replaced_by)
    return _l("This code is no longer in use: choose the desa/kelurahan it became.") if region.level == "desa" \
        else _l("The code %(code)s is no longer in use after a new Kepmendagri.", code=region.code)


def check_location(desa_code: str, lat: float | None, lon: float | None) -> Region:
    """The desa, if it exists and the point lies in Indonesia inside the desa's kabupaten."""
    desa = db.session.get(Region, desa_code)
    if desa is None or desa.level != "desa":
        raise PlaceError({"desa_code": _l("No desa/kelurahan has this code.")})
    if desa.retired_on is not None:
        raise PlaceError({"desa_code": retired_code_message(desa)})
    if lat is None or lon is None:
        raise PlaceError({"lat": _l("Place the KIM on the map.")})
    minlon, minlat, maxlon, maxlat = INDONESIA_BOUNDS
    inside = lambda la, lo: minlat <= la <= maxlat and minlon <= lo <= maxlon  # noqa: E731
    if not inside(lat, lon):
        message = (_l("The point is outside Indonesia. Latitude and longitude look swapped.")
                   if inside(lon, lat) else _l("The point is outside Indonesia."))
        raise PlaceError({"lat": message})
    kabupaten = db.session.get(Region, kabupaten_of(desa_code))
    if kabupaten is not None:  # a kabupaten without a boundary checks nothing
        within = db.session.scalar(
            text("SELECT geom IS NULL OR ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
                 "::geography, :tol) FROM region WHERE code = :code"),
            {"lon": lon, "lat": lat, "tol": BOUNDARY_TOLERANCE_M, "code": kabupaten.code},
        )
        if not within:
            raise PlaceError({
                "lat": _l("The point is outside %(region)s. Move the pin into the kabupaten/kota.",
                          region=kabupaten.name)})
    return desa
