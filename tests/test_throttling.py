"""Login throttling per account and per address, answered with 429."""
from tests.conftest import csrf_token


def test_login_is_throttled_per_account(client, make_user):
    user = make_user(email="ada@example.id")
    token = csrf_token(client)
    statuses = [
        client.post("/masuk", data={"email": user.email, "password": f"salah {i}", "csrf_token": token}).status_code
        for i in range(6)
    ]
    assert statuses == [422] * 5 + [429]
    blocked = client.post("/masuk", data={"email": user.email, "password": "kopi-tubruk-di-mamuju",
                                          "csrf_token": token})
    assert blocked.status_code == 429  # even the right password waits
    assert "Terlalu banyak" in blocked.get_data(as_text=True)
    assert "Retry-After" in blocked.headers
    # Another account from the same address is not blocked yet.
    other = client.post("/masuk", data={"email": "lain@example.id", "password": "x" * 8, "csrf_token": token})
    assert other.status_code == 422


def test_login_is_throttled_per_address_across_accounts(client):
    token = csrf_token(client)
    statuses = [
        client.post("/masuk", data={"email": f"u{i}@example.id", "password": "salah sekali", "csrf_token": token})
        .status_code
        for i in range(11)
    ]
    assert statuses == [422] * 10 + [429]


def test_api_token_endpoint_shares_the_account_limit(client, make_user):
    make_user(email="ada@example.id")
    statuses = [client.post("/api/v1/auth/token", json={"email": "ada@example.id", "password": "salah"}).status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    body = client.post("/api/v1/auth/token", json={"email": "ada@example.id", "password": "x"}).get_json()
    assert body["error"]["code"] == "rate_limited"
