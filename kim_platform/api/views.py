"""The API's own documents: the OpenAPI 3 spec and a readable page generated from it."""
from flask import Blueprint, jsonify, render_template

from kim_platform.extensions import api

blp = Blueprint("api_meta", __name__, url_prefix="/api/v1")


@blp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3 document, generated from the routes and schemas in the code."""
    return jsonify(api.spec.to_dict())


@blp.get("/docs")
def docs():
    """Human-readable reference built from the same OpenAPI document."""
    spec = api.spec.to_dict()
    return render_template("api/docs.html", spec=spec)
