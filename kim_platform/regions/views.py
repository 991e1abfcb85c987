"""Region pages: the home page (/), /wilayah, /wilayah/<code>, /wilayah/cari; and the rule for a
region chosen by a code a Kepmendagri replaced (`?wilayah=<old>` on any page)."""
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from kim_platform.core.maps import embed, region_map
from kim_platform.core.pagination import page_arg
from kim_platform.regions import queries, slots  # noqa: F401 (slots: declared for the region page)
from kim_platform.regions.codes import LEVELS, is_valid_code

bp = Blueprint("regions", __name__, url_prefix="/wilayah")
# The home page is the way into the regions; its own blueprint because it lives at the root.
home_bp = Blueprint("home", __name__)


# The query parameter every page uses for a chosen region (/cakupan, /teladan, /kim, /kegiatan, …).
REGION_ARG = "wilayah"
OLD_CODE_ARG = "kode_lama"


@bp.before_app_request
def redirect_replaced_region_arg():
    """`?wilayah=<old code>` on any page: 302 to the same page with the code that took it over
    and `kode_lama` (the page then shows the note /wilayah/<old> gives), the rest of the query
    kept. A 302, not a 301, as for /wilayah/<old>. The API resolves its filters instead
    (regions.api.RegionCode)."""
    if request.method not in ("GET", "HEAD") or request.path.startswith("/api/"):
        return None
    code = request.args.get(REGION_ARG, "").strip()
    current = queries.current_code(code) if is_valid_code(code) else None
    if current is None:
        return None
    args = [(key, value) for key, value in request.args.items(multi=True) if key not in (REGION_ARG, OLD_CODE_ARG)]
    args += [(REGION_ARG, current), (OLD_CODE_ARG, code)]
    return redirect(f"{request.script_root}{request.path}?{urlencode(args)}")


@bp.app_template_global()
def replaced_region_notice():
    """(old region, change) on a page reached from an old code (base.html shows the note), else None."""
    old = request.args.get(OLD_CODE_ARG, "")
    code = request.args.get(REGION_ARG, "")
    return queries.replaced_notice(old, code) if old and code else None


@home_bp.get("/")
def home():
    """Landing page: what the platform is, and a way into the regions."""
    return render_template("regions/home.html", provinces=queries.provinces())


@bp.get("")
def index():
    """All provinces with the size of each."""
    provinces = queries.provinces()
    codes = [p.code for p in provinces]
    return render_template(
        "regions/index.html",
        provinces=provinces,
        child_counts=queries.child_counts(codes),
        descendant_counts=queries.descendant_counts(codes),
    )


@bp.get("/cari")
def search():
    """Find a region by name (typo-tolerant) or code; top results with full paths."""
    q = (request.args.get("q") or "").strip()[:100]
    results = queries.search_regions(q) if q else []
    return render_template("regions/search.html", q=q, results=results, paths=queries.region_paths(results))


@bp.get("/<code>")
def detail(code: str):
    """One region: breadcrumb, figures, map, and its children page by page."""
    region = queries.get_region(code) if is_valid_code(code) else None
    if region is None:
        abort(404)
    if region.replaced_by:
        # An old code keeps working: to the region that took it over, which says so (a 302, not a
        # 301: a mistaken mapping corrected later must not stay cached in browsers).
        return redirect(url_for("regions.detail", code=queries.current_code(code), kode_lama=region.code))
    replaced = queries.replaced_notice(request.args.get(OLD_CODE_ARG, ""), code)
    retired_note = queries.last_change_of(code) if region.is_retired else None
    children = queries.children_page(code, page_arg(), current_app.config["REGION_CHILDREN_PER_PAGE"])
    child_codes = [child.code for child in children.items]
    facts = queries.region_page_facts(region)
    extent = facts.extent
    fmap = region_map(facts.boundary, extent.centroid, extent.bbox, facts.context, label=region.title)
    return render_template(
        "regions/detail.html",
        region=region,
        replaced=replaced,
        retired_note=retired_note,
        split_into=queries.split_into(code) if region.is_retired else [],
        child_level=LEVELS[LEVELS.index(region.level) + 1] if region.level != "desa" else None,
        ancestors=facts.ancestors,
        children=children,
        kind_counts=facts.kind_counts,
        child_counts=queries.child_counts(child_codes) if region.level != "kecamatan" else {},
        # Only a province's table shows the desa below each child.
        descendant_counts=queries.descendant_counts(child_codes) if region.level == "provinsi" else {},
        extent=extent,
        region_map=embed(fmap) if fmap else None, map_var=fmap.get_name() if fmap else None,
    )
