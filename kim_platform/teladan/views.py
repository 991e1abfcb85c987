"""/teladan: model KIMs with the reasons, examples of good reports, and how the score works."""
from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from kim_platform import permissions
from kim_platform.activities.queries import activity_type_names, activity_types
from kim_platform.core.pagination import page_arg
from kim_platform.kims import queries as kim_queries
from kim_platform.regions.codes import CODE_RE, province_of
from kim_platform.regions.queries import children_page, get_region, provinces
from kim_platform.teladan import queries, scoring

bp = Blueprint("teladan", __name__)
PER_PAGE = 24


def _region_arg():
    """?wilayah= a provinsi or kabupaten/kota (the ranking's scope); 404 for anything else."""
    code = request.args.get("wilayah", "").strip()
    if not code:
        return None
    region = get_region(code) if CODE_RE.match(code) else None
    if region is None or region.level not in ("provinsi", "kabupaten"):
        abort(404)
    return region


@bp.get("/teladan")
def index():
    """The best-scoring KIMs of the nation, a provinsi or a kabupaten/kota, optionally of one bidang."""
    region = _region_arg()
    bidang_choices = kim_queries.bidang_choices()
    bidang = request.args.get("bidang") or None
    if bidang and bidang not in {choice.value for choice in bidang_choices}:
        bidang = None
    page = queries.ranking(region.code if region else None, bidang,
                           page=page_arg(), per_page=PER_PAGE)
    kims = [kim for _, kim in page.items]
    province = region if region and region.level == "provinsi" else (
        get_region(province_of(region.code)) if region else None)
    watch = None
    if permissions.can(current_user, "teladan.watch"):
        watch = queries.dropped_most(None if permissions.is_direktorat(current_user)
                                     else permissions.pembina_scope(current_user))
    return render_template(
        "teladan/index.html", page=page, region=region, bidang=bidang, bidang_choices=bidang_choices,
        provinces=provinces(), kabupaten=children_page(province.code, 1, 200).items if province else [],
        province=province, facts=kim_queries.kim_facts(kims), reports=queries.best_reports([k.id for k in kims]),
        type_names=activity_type_names(), last_run=queries.last_run(), watch=watch,
        watch_facts=kim_queries.kim_facts([kim for _, kim in watch]) if watch else {},
        teladan_count=queries.teladan_count(region.code if region else None), scoring=scoring,
    )


@bp.get("/teladan/contoh")
def examples():
    """Contoh kegiatan: good recent reports of each activity type, for a new KIM to learn from."""
    names = activity_type_names()
    chosen = request.args.get("jenis")
    types = [chosen] if chosen in names else [t.slug for t in activity_types()]
    return render_template("teladan/examples.html", examples=queries.examples(types), type_names=names,
                           chosen=chosen if chosen in names else None)


@bp.get("/teladan/cara-penilaian")
def method():
    """The formula in plain words, generated from the constants the score is computed with."""
    return render_template("teladan/method.html", scoring=scoring)
