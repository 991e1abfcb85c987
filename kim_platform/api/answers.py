"""Hot read answers that skip the marshmallow dump.

An operation documented with `@blp.response(200, Schema)` may return a ready response instead of
the object the schema would dump (flask-smorest passes a Response through): the detail reads
build their body in one query and a few lines of Python, exactly as the schema dumps it (dates
in ISO 8601), and tests compare the two."""
from flask import jsonify


def json_answer(body: dict):
    """`body` (already in the schema's dumped form) as the JSON answer flask-smorest would send."""
    return jsonify(body)
