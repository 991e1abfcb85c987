"""Extensions, created unbound and attached in create_app()."""
from flask_babel import Babel
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from kim_platform.api.errors import ApiErrorSchema

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class KimApi(Api):
    """flask-smorest with our error body; errors are rendered by kim_platform.core.errors."""

    ERROR_SCHEMA = ApiErrorSchema

    def _register_error_handlers(self):
        # One handler for the whole app answers HTML or JSON (see core/errors.py).
        pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
babel = Babel()
api = KimApi()
