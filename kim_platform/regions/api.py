"""/api/v1/regions: the region hierarchy as JSON."""
import functools

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint, abort
from sqlalchemy import func

from kim_platform.api.answers import RawJSON, json_answer, raw_json_answer
from kim_platform.api.schemas import PaginationArgs, error_responses, page_body, page_schema
from kim_platform.regions import queries
from kim_platform.regions.codes import CODE_RE, KINDS, LEVELS, is_valid_code
from kim_platform.regions.models import region_label

blp = Blueprint("regions_api", __name__, description="Administrative regions (wilayah) with Kemendagri codes")

CODE_FIELD_DOC = {"description": "dotted Kemendagri code, e.g. 76.04 or 76.04.01.2001", "example": "76.04"}


REPLACED_HEADER = "Region-Replaced"


class RegionCode(ma.fields.String):
    """A region code as an API filter (`region=`, `parent=`): malformed is 400; a code a
    Kepmendagri replaced is resolved to the code that took it over (regions.queries.current_code,
    the rule pages redirect by), and the answer says so: `Region-Replaced: <old>=<new>`."""

    NOTE = (" A code a Kepmendagri replaced is answered for the current code, with the header "
            "`Region-Replaced: <old>=<new>`.")

    def __init__(self, *, validate=None, **kwargs):
        metadata = dict(kwargs.pop("metadata", {}))
        metadata["description"] = metadata.get("description", "region code") + self.NOTE
        # A narrower pattern (e.g. province or kabupaten only) replaces the general one.
        validate = validate or ma.validate.Regexp(CODE_RE, error="Not a valid region code.")
        super().__init__(validate=validate, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        code = super()._deserialize(value, attr, data, **kwargs)
        current = queries.current_code(code) if is_valid_code(code) else None
        if current is None:
            return code
        g.region_replaced = f"{code}={current}"
        return current


@blp.after_app_request
def _say_region_replaced(response):
    replaced = g.pop("region_replaced", None)
    if replaced:
        response.headers[REPLACED_HEADER] = replaced
    return response


class RegionListArgs(PaginationArgs):
    q = ma.fields.String(
        validate=ma.validate.Length(max=100),
        metadata={"description": "name (case/accent-insensitive, typo-tolerant) or code prefix"},
    )
    level = ma.fields.String(validate=ma.validate.OneOf(LEVELS))
    parent = RegionCode(metadata={"description": "only regions below this code (any depth)", "example": "76"})


class RegionSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata=CODE_FIELD_DOC)
    name = ma.fields.String(required=True)
    level = ma.fields.String(required=True, validate=ma.validate.OneOf(LEVELS))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    parent_code = ma.fields.String(required=True, allow_none=True)
    path = ma.fields.String(
        required=True, metadata={"description": "e.g. Desa X, Kec. Y, Kab. Z, Prov. W"}
    )
    retired_on = ma.fields.Date(
        required=True, allow_none=True,
        metadata={"description": "the day a Kepmendagri withdrew this code (null: current)"})
    replaced_by = ma.fields.String(
        required=True, allow_none=True,
        metadata={"description": "the current code that took over a retired one (null for a split or a removal)"})


class LatLonSchema(ma.Schema):
    lat = ma.fields.Float(required=True)
    lon = ma.fields.Float(required=True)


class AncestorSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    level = ma.fields.String(required=True)


class RegionDetailSchema(RegionSchema):
    children_count = ma.fields.Integer(required=True)
    centroid = ma.fields.Nested(LatLonSchema, required=True, allow_none=True)
    bbox = ma.fields.List(
        ma.fields.Float(), required=True, allow_none=True,
        metadata={"description": "[minlon, minlat, maxlon, maxlat] of the boundary, or null"},
    )
    ancestors = ma.fields.List(ma.fields.Nested(AncestorSchema), required=True)


RegionPageSchema = page_schema(RegionSchema, "RegionPage")


def _serialise(regions) -> list[dict]:
    paths = queries.region_paths(regions)
    return [
        {
            "code": r.code,
            "name": r.name,
            "level": r.level,
            "kind": r.kind,
            "parent_code": r.parent_code,
            "path": paths[r.code],
            "retired_on": r.retired_on,
            "replaced_by": r.replaced_by,
        }
        for r in regions
    ]


def _region_or_error(code: str):
    if not is_valid_code(code):
        abort(400, message="Malformed region code.", errors={"code": ["Not a valid region code."]})
    region = queries.get_region(code)
    if region is None:
        abort(404, message=f"No region with code {code}.")
    return region


def region_or_404(code: str | None):
    """The region a query parameter names (None when absent); an unknown code is a 404.

    For the API routes of the domains above regions (coverage, teladan)."""
    if not code:
        return None
    region = queries.get_region(code)
    if region is None:
        abort(404, message=_("No region with this code."))
    return region


@functools.cache
def _item_sql():
    """_serialise in SQL, over the listed region (queries.listed_region): RegionSchema's dump,
    keys in the order Flask sorts them. Built once (building it costs more than the answer)."""
    r = queries.listed_region()
    return func.json_build_object(
        "code", r.code, "kind", r.kind, "level", r.level, "name", r.name, "parent_code", r.parent_code,
        "path", queries.path_label_sql(r.code), "replaced_by", r.replaced_by, "retired_on", r.retired_on)


@blp.route("")
class Regions(MethodView):
    @blp.arguments(RegionListArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, RegionPageSchema)
    def get(self, page, per_page, q=None, level=None, parent=None):
        """List or search regions.

        Without `q` the regions come in code order; with `q`, best matches first.
        """
        # Regions are public: every caller gets the body PostgreSQL writes (no ORM objects, no dump).
        result = queries.list_regions_json(_item_sql(), q=q, level=level, parent=parent, page=page,
                                           per_page=per_page)
        return raw_json_answer({"items": RawJSON(result.items), "page": result.page,
                                "per_page": result.per_page, "total": result.total})


@blp.route("/<code>")
class RegionDetail(MethodView):
    @blp.doc(parameters=[{"in": "path", "name": "code", "schema": {"type": "string"}, **CODE_FIELD_DOC}])
    @blp.response(200, RegionDetailSchema)
    @error_responses(blp, 400, 404)
    def get(self, code):
        """One region with its centroid, bounding box and ancestors.

        An old code a Kepmendagri replaced answers 200 with its own (retired) data, `retired_on`
        and `replaced_by`, the code to use now; a client follows `replaced_by` itself.
        """
        if not is_valid_code(code):
            abort(400, message="Malformed region code.", errors={"code": ["Not a valid region code."]})
        row = queries.region_detail(code)
        if row is None:
            abort(404, message=f"No region with code {code}.")
        return json_answer(detail_body(row))


def detail_body(row: dict) -> dict:
    """RegionDetailSchema's body, as the schema would dump it, from `queries.region_detail`
    (one statement in all, no ORM load of the region or its ancestors)."""
    ancestors = row["ancestors"] or []
    labels = [region_label(row["level"], row["kind"], row["name"])] + [
        region_label(a["level"], a["kind"], a["name"]) for a in reversed(ancestors)]
    return {
        "code": row["code"], "name": row["name"], "level": row["level"], "kind": row["kind"],
        "parent_code": row["parent_code"], "path": ", ".join(labels),
        "retired_on": row["retired_on"].isoformat() if row["retired_on"] is not None else None,
        "replaced_by": row["replaced_by"],
        "children_count": row["children_count"],
        "centroid": {"lat": row["lat"], "lon": row["lon"]} if row["lat"] is not None else None,
        "bbox": [row["minx"], row["miny"], row["maxx"], row["maxy"]] if row["minx"] is not None else None,
        "ancestors": [{"code": a["code"], "name": a["name"], "level": a["level"]} for a in ancestors],
    }


@blp.route("/<code>/children")
class RegionChildren(MethodView):
    @blp.arguments(PaginationArgs, location="query", as_kwargs=True, error_status_code=400)
    @blp.response(200, RegionPageSchema)
    @error_responses(blp, 404)
    def get(self, code, page, per_page):
        """The direct children of a region, in code order."""
        _region_or_error(code)
        result = queries.children_page(code, page, per_page)
        return page_body(result, _serialise(result.items))
