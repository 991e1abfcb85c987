"""App-wide behaviour: error pages, JSON errors, security headers, config."""
import re

import pytest

from kim_platform import create_app
from kim_platform.config import database_url_for_tests
from kim_platform.core.urls import safe_next_url

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


@pytest.mark.parametrize(
    "url, status, content_type",
    [
        ("/", 200, "text/html"),
        ("/wilayah/76", 200, "text/html"),
        ("/api/v1/regions?per_page=1", 200, "application/json"),
        ("/static/css/site.css", 200, "text/css"),
        ("/static/vendor/leaflet/leaflet.js", 200, "text/javascript"),
        ("/no-such-page", 404, "text/html"),
        ("/api/v1/regions/99", 404, "application/json"),
    ],
)
def test_security_headers_on_every_kind_of_response(client, url, status, content_type):
    response = client.get(url)
    response.close()  # static files are streamed
    assert response.status_code == status
    assert response.content_type.startswith(content_type)
    for header in SECURITY_HEADERS:
        assert header in response.headers, header
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self' 'nonce-" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
    assert "tile.openstreetmap.org" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_inline_map_script_carries_the_response_nonce(client):
    response = client.get("/wilayah/76.02")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    html = response.get_data(as_text=True)
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline_scripts, "the map page has its inline folium script"
    assert all(f'nonce="{nonce}"' in attrs for attrs in inline_scripts)


def test_nonce_changes_per_request(client):
    first = client.get("/").headers["Content-Security-Policy"]
    second = client.get("/").headers["Content-Security-Policy"]
    assert first != second


def test_html_error_page_is_indonesian_and_json_is_asked_for_by_accept(client):
    page = client.get("/tidak-ada")
    assert page.status_code == 404 and "Halaman tidak ditemukan" in page.get_data(as_text=True)
    as_json = client.get("/tidak-ada", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.get_json()["error"]["code"] == "not_found"


def _app_with_failing_route(**overrides):
    app = create_app({"TESTING": True, **overrides})
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    @app.get("/api/v1/boom")
    def api_boom():
        raise RuntimeError("secret internal detail")

    return app


def test_unexpected_errors_give_a_generic_500_without_traceback(caplog):
    client = _app_with_failing_route().test_client()
    page = client.get("/boom")
    assert page.status_code == 500
    html = page.get_data(as_text=True)
    assert "Terjadi kesalahan" in html and "secret internal detail" not in html and "Traceback" not in html
    api = client.get("/api/v1/boom")
    assert api.status_code == 500
    assert api.get_json() == {"error": {"code": "internal_error", "message": api.get_json()["error"]["message"]}}
    assert "secret internal detail" not in api.get_data(as_text=True)
    assert "secret internal detail" in caplog.text  # logged for us, not shown to them


def test_production_config_requires_a_secret_and_secures_cookies(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("KIM_ENV", "production")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("KIM_BASE_URL", "https://kim.example.id")
    monkeypatch.delenv("KIM_TRUSTED_HOSTS", raising=False)
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_HTTPONLY"]
    response = app.test_client().get("/static/css/site.css", base_url="https://kim.example.id")
    response.close()
    assert "max-age" in response.headers["Strict-Transport-Security"]


def test_unknown_environment_name_is_refused(monkeypatch):
    monkeypatch.setenv("KIM_ENV", "staging-typo")
    with pytest.raises(RuntimeError, match="KIM_ENV"):
        create_app()


def test_test_database_is_never_the_development_database(monkeypatch):
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:5432/kim")
    assert database_url_for_tests().endswith("/kim_test")
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("KIM_PG_PORT", "55555")
    assert database_url_for_tests() == "postgresql+psycopg2://kim@127.0.0.1:55555/kim_test"


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/wilayah/76?page=2", "/wilayah/76?page=2"),
        ("https://evil.example/x", None),
        ("//evil.example", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("wilayah", None),
        ("/ok\r\nSet-Cookie: x=1", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_next_url(target, expected):
    assert safe_next_url(target) == expected


def test_a_lost_database_is_a_friendly_503_not_a_500(app, client, monkeypatch):
    """A dropped connection (a restarted PostgreSQL) answers 503 with Retry-After, page and JSON."""
    from sqlalchemy.exc import OperationalError

    from kim_platform.regions import queries as region_queries

    def gone(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(region_queries, "provinces", gone)
    monkeypatch.setattr(region_queries, "get_region", gone)
    monkeypatch.setattr(region_queries, "region_detail", gone)  # the detail API reads in one statement
    page = client.get("/wilayah")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "sementara tidak tersedia" in page.get_data(as_text=True)
    assert "Content-Security-Policy" in page.headers
    answer = client.get("/api/v1/regions/76")
    assert answer.status_code == 503 and answer.get_json()["error"]["message"]


def test_a_connection_lost_at_the_end_of_a_request_does_not_fail_it(client, monkeypatch):
    """Closing the session rolls back; on a connection the database dropped that raises, after the
    answer was made. The request must still be answered."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    original, calls = Session.close, []

    def close_on_a_dead_connection(self):
        calls.append(1)
        if len(calls) == 1:
            original(self)
            raise OperationalError("ROLLBACK", {}, Exception("server closed the connection unexpectedly"))
        return original(self)

    monkeypatch.setattr(Session, "close", close_on_a_dead_connection)
    assert client.get("/wilayah/76").status_code == 200
    assert calls
