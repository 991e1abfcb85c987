"""Schemas shared by every API module: pagination arguments and the list envelope."""
import marshmallow as ma

from kim_platform.core.api_errors import ERROR_CODES
from kim_platform.core.pagination import MAX_PAGE, MAX_PER_PAGE
from kim_platform.extensions import ApiErrorSchema

# Ids are bigint: a larger number names nothing and is refused with 400.
ID_RANGE = ma.validate.Range(min=1, max=2**63 - 1)


class PaginationArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))
    per_page = ma.fields.Integer(
        load_default=50,
        validate=ma.validate.Range(min=1),
        metadata={"description": f"items per page; values above {MAX_PER_PAGE} are capped"},
    )

    @ma.post_load
    def cap_per_page(self, data, **kwargs):
        data["per_page"] = min(data["per_page"], MAX_PER_PAGE)
        return data


def page_schema(item_schema, name: str) -> type[ma.Schema]:
    """The list envelope {"items", "page", "per_page", "total"} around `item_schema`."""
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "page": ma.fields.Integer(required=True),
            "per_page": ma.fields.Integer(required=True),
            "total": ma.fields.Integer(required=True),
        },
    )


def page_body(page, items) -> dict:
    return {"items": items, "page": page.page, "per_page": page.per_page, "total": page.total}


def with_geojson(json_schema) -> dict:
    """blp.doc() arguments for a list that is also served as GeoJSON (format=geojson or Accept:
    application/geo+json). A manual "content" replaces the generated one, so both are given."""
    geojson = {"type": "object", "required": ["type", "features"],
               "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                              "features": {"type": "array", "items": {"type": "object"}},
                              "page": {"type": "integer"}, "per_page": {"type": "integer"},
                              "total": {"type": "integer"}}}
    return {"responses": {200: {"content": {
        "application/json": {"schema": json_schema},
        "application/geo+json": {"schema": geojson}}}}}


def error_responses(blp, *statuses: int):
    """Document error answers ({"error": {...}}) of an operation in the OpenAPI spec."""
    def decorator(func):
        for status in statuses:
            func = blp.alt_response(status, schema=ApiErrorSchema, description=ERROR_CODES[status])(func)
        return func

    return decorator
