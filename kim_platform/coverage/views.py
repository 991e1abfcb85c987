"""/cakupan: coverage tables from the nation down to the desa."""
from flask import Blueprint, abort, render_template, request

from kim_platform.coverage import queries
from kim_platform.regions.codes import CODE_RE
from kim_platform.regions.queries import ancestors_of, get_region

bp = Blueprint("coverage", __name__)
SORTABLE = ("code", "name", "desa_total", "desa_covered", "desa_active", "coverage_pct", "active_pct",
            "kim_verified", "kim_active", "activities_window", "activities_delta")


@bp.get("/cakupan")
def index():
    """National summary and provinces; ?wilayah= drills down to kabupaten, kecamatan, desa."""
    code = request.args.get("wilayah", "").strip()
    region = None
    if code:
        if not CODE_RE.match(code) or (region := get_region(code)) is None:
            abort(404)
        if region.level == "desa":
            abort(404)
    total, rows = queries.summary(region.code if region else None)
    sort = request.args.get("urut") if request.args.get("urut") in SORTABLE else "code"
    descending = request.args.get("arah") == "turun"
    rows.sort(key=lambda row: getattr(row, sort), reverse=descending)
    return render_template("coverage/index.html", region=region, ancestors=ancestors_of(region) if region else [],
                           total=total, rows=rows, sort=sort, descending=descending,
                           window_days=queries.DEFAULT_WINDOW_DAYS)
