"""Issue 14 L11: a deeply nested JSON body is a 400, not a RecursionError (500)."""
import pytest

from kim_platform.core.security import MAX_JSON_DEPTH, json_depth_exceeds
from tests.conftest import bearer

LEVELS = 100_000
BODIES = {
    "arrays-open": b"[" * LEVELS,
    "arrays-closed": b"[" * LEVELS + b"]" * LEVELS,
    "objects": b'{"a":' * LEVELS + b"1" + b"}" * LEVELS,
}


@pytest.mark.parametrize("kind", BODIES)
@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/auth/register", "/api/v1/kims"])
def test_deeply_nested_json_is_refused_with_400(client, make_user, path, kind):
    response = client.post(path, data=BODIES[kind], content_type="application/json",
                           headers=bearer(make_user()) if path == "/api/v1/kims" else {})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and "terlalu dalam" in error["message"]


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/kims"])
def test_an_oversized_json_body_is_refused_before_it_is_scanned(client, make_user, path, monkeypatch):
    from kim_platform.core import security

    scanned = []
    monkeypatch.setattr(security, "json_depth_exceeds", lambda body, *a: scanned.append(body) or False)
    body = b'{"email": "a@example.id", "password": "' + b"x" * security.MAX_JSON_BYTES + b'"}'
    response = client.post(path, data=body, content_type="application/json",
                           headers=bearer(make_user()) if path == "/api/v1/kims" else {})
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"
    assert "paling banyak 1024 KB" in response.get_json()["error"]["message"] and scanned == []


def test_ordinary_nesting_still_reaches_the_schema(client):
    body = {"email": "a@example.id", "password": "x", "label": "[{\"]]]]]]]]]]]]]]]]]]]]]]"}
    assert client.post("/api/v1/auth/token", json=body).status_code == 401


@pytest.mark.parametrize("body, deep", [
    (b'{"a": [1, {"b": "[[[[\\"]]]"}], "c": {}}', False),
    (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, False),
    (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), True),
    (b"[" * (MAX_JSON_DEPTH + 1), True),
    (b'"' + b'\\"[' * 10_000, False),  # one unterminated string
    (b"[]" * 100_000, False),
    (b"]" * 100 + b"[" * 80, False),  # invalid, but not deep: the parser says so
])
def test_depth_scan(body, deep):
    assert json_depth_exceeds(body) is deep
