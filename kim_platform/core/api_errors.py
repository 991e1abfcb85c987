"""The API's error body: {"error": {"code", "message", "fields"}}.

Built here for every JSON error (core.errors answers with it); its schema, which documents it in
the OpenAPI spec, sits with the Api object in kim_platform.extensions."""
from flask import jsonify
from werkzeug.exceptions import HTTPException

# Stable machine-readable codes for clients; the message is for people.
# A CSRF refusal (400): the token is stale or missing; the input itself may be fine.
CSRF_FAILED = "csrf_failed"
# A 503 for a throttled action whose rate limits could not be checked (their Redis is down): the
# input may be fine, send it again after Retry-After. (A 503 for the database says "unavailable".)
SERVICE_UNAVAILABLE = "service_unavailable"

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


def json_error(status: int, message: str, fields: dict[str, str] | None = None, code: str | None = None):
    """The error body with its status; `fields` only when some input is at fault."""
    body = {"error": {"code": code or ERROR_CODES.get(status, "error"), "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    return response


def api_error_response(error: HTTPException, message: str, code: str | None = None):
    """Build the JSON error response for an HTTPException raised anywhere under /api."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    fields = {}
    if "errors" in data:
        fields = flatten_field_errors(data["errors"])
    elif "messages" in data:
        fields = flatten_field_errors(data["messages"])
    response = json_error(status, data.get("message", message), fields, code)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response
