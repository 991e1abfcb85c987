"""PLACEHOLDER until h46's job queue merges (replaced at merge): records the jobs only."""
from kim_platform.extensions import db

EXTENSION = "kim_job_handlers"


def job_handler(app, kind, func, on_final_failure=None):
    app.extensions.setdefault(EXTENSION, {})[kind] = (func, on_final_failure)


def enqueue(kind, payload, dedup_key=None):
    db.session.info.setdefault("kim_jobs", []).append((kind, payload))
