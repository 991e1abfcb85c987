"""A test app factory for the job worker run as a real process (tests/test_job_queue.py).

`flask --app tests.job_worker_app:create_app jobs worker` is the platform's worker with one more
handler, `test.block`: it writes its effect (a job_run row), notes each attempt in a file, and
waits until a release file exists, so a test can SIGKILL the worker in the middle of a job."""
import time
from datetime import date
from pathlib import Path

from kim_platform import create_app as create_platform_app
from kim_platform.core.jobs import JobRun
from kim_platform.core.queue import job_handler
from kim_platform.extensions import db

EFFECT_DAY = date(2000, 1, 1)


def blocking_job(payload: dict) -> None:
    db.session.add(JobRun(name=payload["name"], day=EFFECT_DAY, summary="effect"))
    db.session.flush()  # the effect is written, not committed
    with open(payload["attempts_file"], "a") as attempts:
        attempts.write("attempt\n")
    release = Path(payload["release_file"])
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def create_app():
    app = create_platform_app({"TESTING": True})
    job_handler(app, "test.block", blocking_job)
    return app
