"""Rate limits kept in Redis (KIM_RATELIMIT_STORAGE_URI=redis://…): shared by the nodes, and a clear
503 with Retry-After for every throttled action when Redis is down, never a run without limits.

"Redis down" is a node whose limits storage is a closed port, and one redis-server of the test's own
stopped and started again mid-test."""
import re

import pytest
from sqlalchemy import func, select

from kim_platform.accounts.models import LoginSession, User
from kim_platform.activities.models import Activity
from kim_platform.core import clock
from kim_platform.extensions import db
from tests.conftest import PASSWORD, bearer, free_port

INDONESIAN = "Layanan sedang sibuk atau tidak tersedia"


@pytest.fixture
def down_url():
    """A Redis URL nothing listens on."""
    return f"redis://127.0.0.1:{free_port()}/0"


def token_of(client) -> str:
    html = client.get("/lupa-sandi").get_data(as_text=True)  # a read: it works with Redis down
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def logged_in(node, user):
    """A browser logged in to `user`, asking `node` (the login itself made through a healthy node)."""
    from kim_platform.accounts.services import start_login_session

    client = node.test_client()
    session_token = start_login_session(user)
    with client.session_transaction() as session:
        session["_user_id"] = session_token
        session["_fresh"] = True
    return client


def assert_refused_page(response):
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"].isdigit()
    assert INDONESIAN in response.get_data(as_text=True)


def assert_refused_api(response):
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"].isdigit()
    error = response.get_json()["error"]
    assert error["code"] == "service_unavailable"
    assert INDONESIAN in error["message"]


ANONYMOUS_PAGES = ["/masuk", "/daftar", "/lupa-sandi", "/atur-ulang-sandi/kadaluarsa"]
MEMBER_PAGES = ["/kim/{kim}/lapor", "/kim/{kim}/aspirasi/baru", "/kim/daftar", "/kim/{kim}/ubah", "/kim/gabung",
                "/akun/sandi", "/kegiatan/1/ubah"]
ANONYMOUS_API = [("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/register")]
MEMBER_API = [("POST", "/api/v1/kims"), ("PATCH", "/api/v1/kims/{kim}"), ("POST", "/api/v1/kims/{kim}/activities"),
              ("PATCH", "/api/v1/activities/1"), ("PUT", "/api/v1/activities/1/photos/1"),
              ("POST", "/api/v1/aspirations"), ("POST", "/api/v1/aspirations/1/transitions"),
              ("POST", "/api/v1/campaigns"), ("POST", "/api/v1/health/kims/{kim}/notes")]


def test_every_throttled_action_answers_503_when_the_limits_redis_is_down(make_node, down_url, kim_with_member):
    kim, member, _admin = kim_with_member
    node = make_node(RATELIMIT_STORAGE_URI=down_url)
    anonymous = node.test_client()
    token = token_of(anonymous)
    for path in ANONYMOUS_PAGES:
        form = {"email": "a@example.id", "csrf_token": token}
        assert_refused_page(anonymous.post(path.format(kim=kim.slug), data=form))
    for method, path in ANONYMOUS_API:
        assert_refused_api(anonymous.open(path, method=method, json={"email": "a@example.id", "password": "x"}))
    browser = logged_in(node, member)
    token = token_of(browser)
    for path in MEMBER_PAGES:
        assert_refused_page(browser.post(path.format(kim=kim.slug), data={"title": "x", "csrf_token": token}))
    headers = bearer(member)  # Indonesian is the default language
    for method, path in MEMBER_API:
        assert_refused_api(browser.open(path.format(kim=kim.id), method=method, json={}, headers=headers))


def test_the_share_link_counter_is_throttled_too(make_node, down_url):
    """A share link's visit is counted on GET under a limit (campaigns.views.share_redirect)."""
    node = make_node(RATELIMIT_STORAGE_URI=down_url)
    assert_refused_page(node.test_client().get("/p/abcdef"))


def test_a_refused_action_writes_nothing(make_node, down_url, kim_with_member):
    kim, member, _admin = kim_with_member
    node = make_node(RATELIMIT_STORAGE_URI=down_url)
    client = node.test_client()
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    users, logins, reports = count(User), count(LoginSession), count(Activity)

    token = token_of(client)
    login = client.post("/masuk", data={"email": member.email, "password": PASSWORD, "csrf_token": token})
    assert login.status_code == 503
    register = client.post("/api/v1/auth/register", json={"name": "Warga Baru", "email": "baru@example.id",
                                                           "password": "kopi-susu-di-majene"})
    assert register.status_code == 503
    report = {"title": "Sosialisasi cek fakta", "date": clock.today().isoformat(), "type": "diskusi",
              "description": "Warga belajar mengenali hoaks.", "reach_offline": 25}
    posted = client.post(f"/api/v1/kims/{kim.id}/activities", json=report,
                         headers={**bearer(member), "Idempotency-Key": "kunci-503"})
    assert posted.status_code == 503
    assert (count(User), count(LoginSession), count(Activity)) == (users, logins, reports)


def test_reads_work_with_the_limits_redis_down(make_node, down_url, kim_with_member):
    kim, member, _admin = kim_with_member
    node = make_node(RATELIMIT_STORAGE_URI=down_url, REDIS_URL=down_url)
    client = node.test_client()
    for path in ["/", "/masuk", "/daftar", "/kim", f"/kim/{kim.slug}", "/peta", "/cakupan", "/kegiatan",
                 "/api/v1/kims", f"/api/v1/kims/{kim.id}", "/api/v1/regions/76", "/tiles/regions/5/26/16.pbf",
                 "/tiles/kims/12/3401/2079.pbf", "/cakupan/ekspor.csv"]:
        assert client.get(path).status_code in (200, 204), path
    assert client.get("/api/v1/me", headers=bearer(member)).status_code == 200


def test_login_limits_are_shared_by_two_nodes(make_node, redis_url, make_user):
    """Five failed logins through node A, the sixth through node B (started later, with a storage
    object of its own) is refused: the count lives in Redis. Memory storage forgets it."""
    user = make_user(email="ada@example.id")

    def attempts(uri) -> list[int]:
        node_a = make_node(RATELIMIT_STORAGE_URI=uri)
        client_a = node_a.test_client()
        token = token_of(client_a)
        statuses = [client_a.post("/masuk", data={"email": user.email, "password": f"salah {i}", "csrf_token": token})
                    .status_code for i in range(5)]
        node_b = make_node(RATELIMIT_STORAGE_URI=uri)
        client_b = node_b.test_client()
        statuses.append(client_b.post("/masuk", data={"email": user.email, "password": PASSWORD,
                                                      "csrf_token": token_of(client_b)}).status_code)
        return statuses

    assert attempts(redis_url) == [422] * 5 + [429]
    assert attempts("memory://") == [422] * 5 + [302]  # per process: node B starts from zero


def test_redis_stopped_and_started_mid_test(make_node, private_redis, kim_with_member):
    """Posting works, gets a 503 while Redis is stopped (reads still 200), and works again after."""
    kim, member, _admin = kim_with_member
    node = make_node(RATELIMIT_STORAGE_URI=private_redis.url, REDIS_URL=private_redis.url)
    client = node.test_client()
    headers = bearer(member)

    def post(key):
        body = {"title": f"Laporan {key}", "date": clock.today().isoformat(), "type": "diskusi",
                "description": "Warga belajar mengenali hoaks.", "reach_offline": 5}
        return client.post(f"/api/v1/kims/{kim.id}/activities", json=body, headers={**headers, "Idempotency-Key": key})

    assert post("pertama").status_code == 201
    private_redis.stop()
    refused = post("kedua")
    assert_refused_api(refused)
    assert client.get(f"/api/v1/kims/{kim.id}").status_code == 200
    assert client.get("/tiles/regions/5/26/16.pbf").status_code == 200
    private_redis.start()  # an empty Redis: limits start again from zero, which is all it loses
    assert post("kedua").status_code == 201  # the outbox's retry of the refused report
    titles = db.session.scalars(select(Activity.title).where(Activity.kim_id == kim.id)).all()
    assert sorted(titles) == ["Laporan kedua", "Laporan pertama"]



def test_redis_lost_after_the_check_is_a_503_and_the_action_is_not_kept(make_node, private_redis, kim_with_member):
    """The limit was checked, the view wrote its report, and Redis went away before Flask-Limiter's
    after_request read the limit headers: a 503, not a 500, and the report is not committed."""
    kim, member, _admin = kim_with_member
    node = make_node(RATELIMIT_STORAGE_URI=private_redis.url, PROPAGATE_EXCEPTIONS=False)
    node.after_request(lambda response: private_redis.stop() or response)  # runs before the limiter's
    body = {"title": "Laporan terputus", "date": clock.today().isoformat(), "type": "diskusi",
            "description": "Warga belajar mengenali hoaks.", "reach_offline": 5}
    answer = node.test_client().post(f"/api/v1/kims/{kim.id}/activities", json=body, headers=bearer(member))
    assert_refused_api(answer)
    assert db.session.scalar(select(func.count()).select_from(Activity).where(Activity.kim_id == kim.id)) == 0
