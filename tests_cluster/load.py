"""A mixed load through nginx for the fault tests: clients in threads reading real paths and posting
reports the way the offline outbox does (an Idempotency-Key per report, sent again after a refusal
the platform documents as temporary, until it is answered), every answer counted.

`Load(...)` is a context manager: the clients run inside the block. Afterwards `answers` counts
(kind, status), `unexpected` lists what no document allows (a read that is not 200/304, a post that
is neither 201 nor a documented 503/429, a post still refused after a minute, a connection error
on a read sent again), and `acknowledged` maps each report's
key to the id its 201 gave: the test then checks every acknowledged report exists, once."""
import random
import threading
import time
import uuid
from collections import Counter
from datetime import date

import requests

READ_OK = {200, 204, 304}  # 204: a tile with nothing in it
# A post refused for now: Redis away (503, Retry-After), a limit reached (429). The outbox sends
# it again later with the same key, so neither loses the report.
POST_AGAIN = {429, 503}


class Load:
    def __init__(self, base: str, reads: list[str], posters: list[tuple] = (), clients: int = 8,
                 post_share: float = 0.0, seed: int = 1, pause: float = 0.0):
        self.base, self.reads, self.posters = base, list(reads), list(posters)
        self.clients, self.post_share, self.pause = clients, post_share, pause
        self.random = random.Random(seed)
        self.answers: Counter = Counter()
        self.unexpected: list[tuple] = []
        self.acknowledged: dict[str, int] = {}
        self.retried_posts = 0
        self.retried_reads = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- the block ------------------------------------------------------------------------------
    def __enter__(self):
        for n in range(self.clients):
            thread = threading.Thread(target=self._client, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(120)
        return False

    def requests_done(self) -> int:
        with self._lock:
            return sum(self.answers.values())

    def wait_for(self, count: int, tries: int = 600) -> None:
        """Until `count` more answers have come (a count, not a time)."""
        target = self.requests_done() + count
        for _ in range(tries):
            if self.requests_done() >= target:
                return
            time.sleep(0.1)
        raise AssertionError(f"the load did not reach {count} more answers")

    # -- one client -----------------------------------------------------------------------------
    def _record(self, kind: str, status, url: str, ok: bool) -> None:
        with self._lock:
            self.answers[(kind, status)] += 1
            if not ok:
                self.unexpected.append((kind, status, url))

    def _client(self, n: int) -> None:
        pick = random.Random(self.random.random())
        session = requests.Session()
        while not self._stop.is_set():
            if self.posters and pick.random() < self.post_share:
                # Any of the accounts, so that each stays under its own posting limit.
                self._post(session, pick.choice(self.posters), pick)
            else:
                self._read(session, self.base + pick.choice(self.reads))
            if self.pause:
                time.sleep(self.pause)
        session.close()

    def _read(self, session, url: str) -> None:
        """A GET, sent once more on a new connection when the connection broke before any answer,
        as browsers do (RFC 9112 9.3.1: a client may retry an idempotent request). nginx closes
        its idle keep-alive connections when a reload retires a worker; a request the client
        sent on one at that instant meets a closed socket, which no server can prevent."""
        for attempt in range(2):
            try:
                answer = session.get(url, timeout=30)
            except requests.ConnectionError as error:
                if attempt == 0:
                    with self._lock:
                        self.retried_reads += 1
                    continue
                self._record("read", type(error).__name__, url, False)
            except requests.RequestException as error:
                self._record("read", type(error).__name__, url, False)
            else:
                self._record("read", answer.status_code, url, answer.status_code in READ_OK)
            return

    def _post(self, session, poster, pick) -> None:
        kim_id, token, desa_code = poster
        key = uuid.uuid4().hex
        url = f"{self.base}/api/v1/kims/{kim_id}/activities"
        body = {"title": f"Laporan uji klaster {key[:8]}", "date": date.today().isoformat(), "type": "diskusi",
                "desa_code": desa_code, "description": "Diskusi warga tentang layanan desa.", "reach_offline": 10}
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        for attempt in range(30):
            try:
                answer = session.post(url, json=body, headers=headers, timeout=30)
            except requests.RequestException as error:
                # The outbox sends again when the link broke; the key makes it once.
                self._record("post", type(error).__name__, url, False)
                time.sleep(0.5)
                continue
            if answer.status_code in (200, 201):
                self._record("post", answer.status_code, url, True)
                with self._lock:
                    self.acknowledged[key] = answer.json()["id"]
                    self.retried_posts += attempt > 0
                return
            self._record("post", answer.status_code, url, answer.status_code in POST_AGAIN)
            if answer.status_code not in POST_AGAIN:
                return
            if self._stop.is_set() and attempt > 5:
                return
            time.sleep(min(float(answer.headers.get("Retry-After", 1) or 1), 2.0))
        if not self._stop.is_set():  # still refused after a minute: a refusal that is not temporary
            self._record("post", "gave up", url, False)

    # -- what came out --------------------------------------------------------------------------
    def summary(self) -> str:
        counts = ", ".join(f"{kind} {status}: {count}" for (kind, status), count in sorted(
            self.answers.items(), key=lambda item: (item[0][0], str(item[0][1]))))
        return (f"{counts}; acknowledged reports {len(self.acknowledged)}, posts sent again {self.retried_posts}, "
                f"reads sent again after a closed connection {self.retried_reads}")
