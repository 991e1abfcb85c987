"""Hot read answers that skip the marshmallow dump.

An operation documented with `@blp.response(200, Schema)` may return a ready response instead of
the object the schema would dump (flask-smorest passes a Response through): the detail reads
build their body in one query and a few lines of Python, exactly as the schema dumps it (dates
in ISO 8601), and tests compare the two. The public's lists go further: PostgreSQL writes their
items as one JSON text (core/sqljson.py), placed into the envelope as it is (`RawJSON`)."""
import json

from flask import current_app, jsonify


def json_answer(body: dict):
    """`body` (already in the schema's dumped form) as the JSON answer flask-smorest would send."""
    return jsonify(body)


class RawJSON(str):
    """JSON text written elsewhere (by PostgreSQL), placed into a `raw_json_answer` body verbatim."""


def raw_json_answer(body: dict, mimetype: str = "application/json"):
    """The answer `jsonify(body)` would give, where some values are `RawJSON` text: keys sorted as
    Flask sorts them, compact separators, a final newline. The raw parts keep PostgreSQL's own
    spacing and write non-ASCII characters unescaped: the same JSON, not the same bytes."""
    parts = []
    for key in sorted(body):
        value = body[key]
        text = value if isinstance(value, RawJSON) else json.dumps(value, separators=(",", ":"))
        parts.append(f"{json.dumps(key)}:{text}")
    return current_app.response_class("{" + ",".join(parts) + "}\n", mimetype=mimetype)
