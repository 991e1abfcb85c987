"""Synthetic demo data: marked, removable, deterministic."""
import time

from flask import current_app

_cache = {"at": 0.0, "value": False}


def init_app(app) -> None:
    @app.context_processor
    def inject_demo_flag():
        return {"demo_data_present": demo_data_present}


def demo_data_present() -> bool:
    """Whether demo rows exist (for the banner); asked at most once a minute per worker."""
    now = time.monotonic()
    if now - _cache["at"] > current_app.config.get("DEMO_FLAG_TTL", 60):
        from sqlalchemy.exc import SQLAlchemyError

        from kim_platform.core import transaction
        from kim_platform.demo.generator import demo_present
        from kim_platform.extensions import db

        try:
            _cache["value"] = demo_present(db.session.connection())
        except SQLAlchemyError:  # an error page must still render while the database is away
            transaction.recover_session()
            return False
        _cache["at"] = now
    return _cache["value"]
