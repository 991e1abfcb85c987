"""The API's error body: {"error": {"code", "message", "fields"}}."""
import marshmallow as ma
from flask import jsonify
from werkzeug.exceptions import HTTPException

# Stable machine-readable codes for clients; the message is for people.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiErrorDetailSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "machine-readable error code"})
    message = ma.fields.String(required=True, metadata={"description": "human-readable message"})
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "per-field messages, keyed by parameter or field name"},
    )


class ApiErrorSchema(ma.Schema):
    error = ma.fields.Nested(ApiErrorDetailSchema, required=True)


def flatten_field_errors(messages) -> dict[str, str]:
    """webargs nests errors by location ({"query": {"page": [...]}}); clients want names."""
    fields: dict[str, str] = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, sub in value.items():
                if prefix is None and key in ("query", "json", "form", "files", "view_args", "headers", "path"):
                    walk(None, sub)
                else:
                    walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, (list, tuple)):
            texts = [str(v) for v in value if not isinstance(v, (dict, list))]
            nested = [v for v in value if isinstance(v, (dict, list))]
            if texts:
                fields[prefix or "_"] = " ".join(texts)
            for sub in nested:
                walk(prefix, sub)
        else:
            fields[prefix or "_"] = str(value)

    walk(None, messages)
    return fields


def json_error(status: int, message: str, fields: dict[str, str] | None = None):
    """The error body with its status; `fields` only when some input is at fault."""
    body = {"error": {"code": ERROR_CODES.get(status, "error"), "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    return response


def api_error_response(error: HTTPException, message: str):
    """Build the JSON error response for an HTTPException raised anywhere under /api."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    fields = {}
    if "errors" in data:
        fields = flatten_field_errors(data["errors"])
    elif "messages" in data:
        fields = flatten_field_errors(data["messages"])
    response = json_error(status, data.get("message", message), fields)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def region_or_404(code: str | None):
    """The region a query parameter names (None when absent); an unknown code is a 404."""
    from flask_babel import gettext as _
    from flask_smorest import abort

    from kim_platform.regions.queries import get_region

    if not code:
        return None
    region = get_region(code)
    if region is None:
        abort(404, message=_("No region with this code."))
    return region
