"""Extensions, created unbound and attached in create_app()."""
import marshmallow as ma
from flask_babel import Babel
from flask_compress import Compress
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The body of every API error ({"error": {"code", "message", "fields"}}), built by
# kim_platform.core.api_errors.api_error_response and documented for every operation.
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


class KimApi(Api):
    """flask-smorest with our error body; errors are rendered by kim_platform.core.errors."""

    ERROR_SCHEMA = ApiErrorSchema

    def _register_error_handlers(self):
        # One handler for the whole app answers HTML or JSON (see core/errors.py).
        pass


db = SQLAlchemy(model_class=Base)
babel = Babel()
api = KimApi()
compress = Compress()
