"""Extensions, created unbound and attached in create_app()."""
import re

import marshmallow as ma
from flask_babel import Babel
from flask_compress import Compress
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import MetaData, Select
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.elements import TextClause

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


REPLICA_BIND = "replica"  # the key of the read replica in SQLALCHEMY_BINDS (kim_platform.core.replica)
# db.session.info keys (the session is one per app context, i.e. per request)
ROUTE = "kim_route"  # PRIMARY or REPLICA while a request runs with a replica configured
WROTE = "kim_wrote"  # a statement that may have written went to the primary
PRIMARY, REPLICA = "primary", "replica"

# Text statements that write (a text SELECT of a writing function is caught by the rerun instead).
_TEXT_WRITES = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|TRUNCATE|COPY|LOCK|GRANT|REVOKE|REFRESH|CALL"
    r"|VACUUM|ANALYZE|CLUSTER|REINDEX|COMMENT|SET)\b|\bFOR\s+(NO\s+KEY\s+)?(UPDATE|SHARE)\b",
    re.IGNORECASE)


class RoutingSession(FlaskSession):
    """Flask-SQLAlchemy's session, choosing the replica for the reads of a replica-routed request
    (kim_platform.core.replica decides the route; here only its consequence per statement).

    Nothing changes until a request sets the route (`dispatch`, only with a replica configured):
    an empty `info` is the whole cost of every statement otherwise."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        info = self.info
        if bind is None and info:
            route = info.get(ROUTE)
            if route is not None:
                if self._flushing or _writes(clause):
                    info[WROTE] = True
                    if route == REPLICA:
                        info[ROUTE] = PRIMARY  # the rest of the request reads what it wrote
                elif route == REPLICA:
                    return self._db.engines[REPLICA_BIND]
                elif clause is None or isinstance(clause, TextClause):
                    info[WROTE] = True  # a raw connection or text SQL on the primary: maybe a write
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def _writes(clause) -> bool:
    if clause is None:
        return False
    if getattr(clause, "is_dml", False):
        return True
    if isinstance(clause, Select):
        return clause._for_update_arg is not None  # noqa: SLF001 - no public accessor
    if isinstance(clause, TextClause):
        return _TEXT_WRITES.search(clause.text) is not None
    return False


# RoutingSession is Flask-SQLAlchemy's session until a replica is configured (core/replica.py).
db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})
babel = Babel()
api = KimApi()
compress = Compress()
