"""Issue 14 H1: every absolute link comes from the configured base URL, never from the request's
Host; in production an unknown Host is refused with 400."""
import re

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from kim_platform import create_app
from kim_platform.config import database_url_for_tests
from kim_platform.core.urls import absolute_url
from tests.conftest import bearer, csrf_token

HOSTILE = {"Host": "attacker.example", "X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "http"}
PASSWORD = "sungai mandar biru"


@pytest.fixture
def base(app):
    return app.config["BASE_URL"]


@pytest.fixture
def behind_a_proxy(app, monkeypatch):
    """The session app as with KIM_PROXY_COUNT=1: X-Forwarded-Host becomes the request's host."""
    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1))


def hostile_form(client, path, **data):
    """The issue's repro: GET the form, then POST it, both with a forged Host."""
    html = client.get("/lupa-sandi", headers=HOSTILE).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    return client.post(path, data={**data, "csrf_token": token}, headers=HOSTILE)


def mailed_links(outbox, to: str) -> list[str]:
    return [link for m in outbox.messages() if m["To"] == to
            for link in re.findall(r"https?://[^\s]+", m.get_content())]


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "behind-proxy"])
def test_password_reset_link_ignores_a_forged_host(request, client, make_user, outbox, base, proxied):
    if proxied:
        request.getfixturevalue("behind_a_proxy")
    make_user(email="korban@example.id")
    response = hostile_form(client, "/lupa-sandi", email="korban@example.id")
    assert response.status_code == 200
    links = mailed_links(outbox, "korban@example.id")
    assert len(links) == 1 and links[0].startswith(f"{base}/atur-ulang-sandi/")
    assert "attacker" not in outbox.messages()[0].get_content()
    # The mailed link still works (Outbox.last_link keeps reading it as a local path).
    assert client.get(outbox.last_link("korban@example.id", "/atur-ulang-sandi/")).status_code == 200


def test_registration_mails_ignore_a_forged_host(client, make_user, outbox, base, behind_a_proxy):
    make_user(email="ada@example.id")
    for email in ("baru@example.id", "ada@example.id"):
        response = hostile_form(client, "/daftar", name="Siti", email=email, password=PASSWORD)
        assert response.status_code == 200
    api = client.post("/api/v1/auth/register", headers=HOSTILE,
                      json={"name": "Budi", "email": "api@example.id", "password": PASSWORD})
    assert api.status_code == 201
    assert [link.split("/", 3)[3].split("/")[0] for link in mailed_links(outbox, "baru@example.id")] == ["verifikasi"]
    assert mailed_links(outbox, "ada@example.id") == [f"{base}/lupa-sandi"]
    assert mailed_links(outbox, "api@example.id")[0].startswith(f"{base}/verifikasi/")
    assert all(link.startswith(base + "/") for m in outbox.messages() for link in mailed_links(outbox, m["To"]))


def test_kim_status_mail_ignores_a_forged_host(client, make_user, make_kim, outbox, base, behind_a_proxy):
    ketua = make_user(email="ketua@example.id")
    kim = make_kim(status="submitted", members=[(ketua, "ketua")])
    pembina = make_user(role="pembina", scope="76.02")
    response = client.post(f"/api/v1/kims/{kim.id}/verify", headers={**HOSTILE, **bearer(pembina)})
    assert response.status_code == 200, response.get_json()
    assert mailed_links(outbox, "ketua@example.id") == [f"{base}/kim/{response.get_json()['number']}"]


def test_absolute_url_works_outside_a_request(app, base):
    with app.app_context():
        assert absolute_url("accounts.reset_password", token="abc") == f"{base}/atur-ulang-sandi/abc"
        assert absolute_url("regions.detail", code="76", _anchor="peta") == f"{base}/wilayah/76#peta"


def test_status_change_redirects_back_only_to_pages_of_this_site(app, make_user, make_kim, base):
    from tests.conftest import login

    pembina = make_user(role="pembina", scope="76.02")
    kim = make_kim(status="verified")  # "submit" is refused: the view redirects back
    browser = app.test_client()
    login(browser, pembina)
    for referrer, expected in ((f"{base}/verifikasi?page=2", "/verifikasi?page=2"),
                               ("http://localhost/verifikasi", f"/kim/{kim.number}"),
                               ("http://attacker.example/verifikasi", f"/kim/{kim.number}")):
        response = browser.post(f"/kim/{kim.slug}/status/submit", data={"csrf_token": csrf_token(browser)},
                                headers={"Referer": referrer})
        assert response.status_code == 302 and response.headers["Location"] == expected


# --- configuration and the host check ---------------------------------------------------

@pytest.fixture
def production_env(monkeypatch):
    monkeypatch.setenv("KIM_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", database_url_for_tests())
    monkeypatch.setenv("KIM_BASE_URL", "https://kim.example.id/")
    monkeypatch.delenv("KIM_TRUSTED_HOSTS", raising=False)
    monkeypatch.delenv("KIM_PROXY_COUNT", raising=False)
    return monkeypatch


def test_production_requires_a_base_url(production_env):
    production_env.delenv("KIM_BASE_URL")
    with pytest.raises(RuntimeError, match="KIM_BASE_URL"):
        create_app()


@pytest.mark.parametrize("url", [
    "kim.example.id", "ftp://kim.example.id", "https://", "https://kim.example.id/kim", "https://kim.example.id?x=1",
    "https://kim.example.id/#a", "https://u:p@kim.example.id", "https://kim.example.id:port",
    "https://kim example.id", "javascript:alert(1)"])
def test_a_malformed_base_url_is_refused(production_env, url):
    production_env.setenv("KIM_BASE_URL", url)
    with pytest.raises(RuntimeError, match="KIM_BASE_URL"):
        create_app()


def test_base_url_is_normalised_and_development_has_a_default(production_env):
    assert create_app().config["BASE_URL"] == "https://kim.example.id"
    production_env.setenv("KIM_ENV", "development")
    production_env.delenv("KIM_BASE_URL")
    app = create_app()
    assert app.config["BASE_URL"] == "http://127.0.0.1:5000" and app.config["ALLOWED_HOSTS"] is None


def test_production_refuses_an_unknown_host_with_a_clean_400(production_env):
    client = create_app().test_client()
    good = client.get("/static/css/site.css", base_url="https://kim.example.id")
    good.close()
    assert good.status_code == 200
    page = client.get("/lupa-sandi", headers={"Host": "attacker.example"})
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "Permintaan tidak dapat dipahami" in page.get_data(as_text=True)
    assert "attacker.example" not in page.get_data(as_text=True)
    api = client.post("/api/v1/auth/token", headers={"Host": "attacker.example:443"},
                      json={"email": "a@example.id", "password": "x"})
    assert api.status_code == 400 and api.get_json()["error"]["code"] == "bad_request"
    # Without proxies configured, X-Forwarded-Host is not even read.
    ignored = client.get("/static/css/site.css", base_url="https://kim.example.id",
                         headers={"X-Forwarded-Host": "attacker.example"})
    ignored.close()
    assert ignored.status_code == 200


def test_behind_a_proxy_the_forwarded_host_is_checked(production_env):
    production_env.setenv("KIM_PROXY_COUNT", "1")
    production_env.setenv("KIM_TRUSTED_HOSTS", "kim.example.id, www.kim.example.id")
    app = create_app()
    assert app.config["ALLOWED_HOSTS"] == ["kim.example.id", "www.kim.example.id"]
    client = app.test_client()
    forged = client.get("/lupa-sandi", base_url="https://kim.example.id",
                        headers={"X-Forwarded-Host": "attacker.example"})
    assert forged.status_code == 400
    allowed = client.get("/static/css/site.css", headers={"Host": "10.0.0.5", "X-Forwarded-Host": "www.kim.example.id"})
    allowed.close()
    assert allowed.status_code == 200
