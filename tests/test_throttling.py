"""Throttling, answered with 429: logins, registration and posting, one bucket per action."""
from tests.conftest import PASSWORD, bearer, csrf_token, login


def test_login_is_throttled_per_account_and_address(client, make_user):
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


# --- one bucket per action, shared by the page and the API (L2) -------------------------------

ATTACKER, OWNER_HOME, OWNER_WORK = "203.0.113.7", "198.51.100.20", "192.0.2.44"


def page_login(client, email, password, address="127.0.0.1"):
    return client.post("/masuk", data={"email": email, "password": password, "csrf_token": csrf_token(client)},
                       environ_base={"REMOTE_ADDR": address})


def api_login(client, email, password, address="127.0.0.1"):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_login_attempts_split_between_page_and_api_share_one_bucket(client, make_user):
    user = make_user(email="ada@example.id")
    statuses = [page_login(client, user.email, f"salah {i}").status_code for i in range(3)]
    statuses += [api_login(client, user.email, f"salah {i}").status_code for i in range(2)]
    assert statuses == [422, 422, 422, 401, 401]
    assert page_login(client, user.email, "salah lagi").status_code == 429
    assert api_login(client, user.email, "salah lagi").status_code == 429


def test_registration_split_between_page_and_api_shares_one_bucket(client):
    token = csrf_token(client)
    page = [client.post("/daftar", data={"name": "", "email": f"r{i}@example.id", "password": "x",
                                         "csrf_token": token}).status_code for i in range(5)]
    api = [client.post("/api/v1/auth/register", json={"email": f"s{i}@example.id"}).status_code for i in range(5)]
    assert page == api == [422] * 5
    assert client.post("/api/v1/auth/register", json={"email": "t@example.id"}).status_code == 429
    assert client.post("/daftar", data={"name": "", "email": "u@example.id", "csrf_token": token}).status_code == 429


# --- an attacker cannot keep the owner out (L3) ------------------------------------------------

def test_failures_from_one_address_do_not_lock_the_owner_out_elsewhere(app, make_user):
    user = make_user(email="korban@example.id")
    attacker, owner = app.test_client(), app.test_client()
    statuses = [page_login(attacker, user.email, f"tebakan {i}", ATTACKER).status_code for i in range(8)]
    assert statuses == [422] * 5 + [429] * 3
    assert api_login(attacker, user.email, "tebakan api", ATTACKER).status_code == 429
    assert page_login(owner, user.email, PASSWORD, OWNER_HOME).status_code == 302


def test_a_known_device_logs_in_even_from_the_attackers_address(app, make_user):
    user = make_user(email="korban@example.id")
    owner, attacker = app.test_client(), app.test_client()
    assert page_login(owner, user.email, PASSWORD, OWNER_HOME).status_code == 302
    assert owner.get_cookie("kim_device") is not None and owner.get_cookie("kim_device").http_only
    owner.post("/keluar", data={"csrf_token": csrf_token(owner)})
    # The attacker uses up the account's bucket at their address, and the address's own bucket.
    statuses = [page_login(attacker, user.email, f"tebakan {i}", ATTACKER).status_code for i in range(6)]
    statuses += [page_login(attacker, f"lain{i}@example.id", "tebakan", ATTACKER).status_code for i in range(6)]
    assert statuses[:6] == [422] * 5 + [429] and statuses[-1] == 429
    # The owner, with the device cookie, at the same address (the same café Wi-Fi):
    assert page_login(owner, user.email, PASSWORD, ATTACKER).status_code == 302
    owner.post("/keluar", data={"csrf_token": csrf_token(owner)})
    # ... while the attacker is still refused, with or without the right password.
    assert page_login(attacker, user.email, PASSWORD, ATTACKER).status_code == 429


def test_a_device_cookie_only_helps_the_account_that_logged_in_with_it(app, make_user):
    victim = make_user(email="korban@example.id")
    attacker_account = make_user(email="penyerang@example.id")
    attacker = app.test_client()
    assert page_login(attacker, attacker_account.email, PASSWORD, ATTACKER).status_code == 302
    attacker.post("/keluar", data={"csrf_token": csrf_token(attacker)})
    statuses = [page_login(attacker, victim.email, f"tebakan {i}", ATTACKER).status_code for i in range(6)]
    assert statuses == [422] * 5 + [429]


def test_a_known_device_has_its_own_limit(app, make_user):
    user = make_user(email="ada@example.id")
    browser = app.test_client()
    assert page_login(browser, user.email, PASSWORD, OWNER_HOME).status_code == 302
    browser.post("/keluar", data={"csrf_token": csrf_token(browser)})
    statuses = [page_login(browser, user.email, f"salah {i}", OWNER_WORK).status_code for i in range(6)]
    assert statuses == [422] * 5 + [429]


def test_a_forged_device_cookie_is_ignored(app, make_user):
    user = make_user(email="ada@example.id")
    attacker = app.test_client()
    attacker.set_cookie("kim_device", "eyJuIjoieCIsImEiOltdfQ.forged.signature")
    statuses = [page_login(attacker, user.email, f"tebakan {i}", ATTACKER).status_code for i in range(6)]
    assert statuses == [422] * 5 + [429]


# --- posting attempts count, failed ones too (M6) ------------------------------------------

BAD_REPORT = {"title": "", "date": "bukan-tanggal", "type": "diskusi"}


def bad_api_post(client, kim, headers, address="127.0.0.1"):
    return client.post(f"/api/v1/kims/{kim.id}/activities", json=BAD_REPORT, headers=headers,
                       environ_base={"REMOTE_ADDR": address})


def bad_page_post(client, kim):
    return client.post(f"/kim/{kim.number}/lapor", data={**BAD_REPORT, "csrf_token": csrf_token(client)})


def test_failed_posts_use_up_the_posting_limit(app, client, kim_with_member):
    kim, member, _ = kim_with_member
    assert app.config["POST_LIMITS_ACCOUNT"] == "20 per minute;120 per hour"
    assert app.config["POST_LIMITS_ADDRESS"] == "300 per hour"
    headers = bearer(member)
    statuses = [bad_api_post(client, kim, headers).status_code for _ in range(21)]
    assert statuses == [422] * 20 + [429]
    refused = bad_api_post(client, kim, headers)
    assert refused.get_json()["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) > 0


def test_page_and_api_posts_share_the_bucket(app, client, kim_with_member, monkeypatch):
    monkeypatch.setitem(app.config, "POST_LIMITS_ACCOUNT", "4 per minute")
    kim, member, _ = kim_with_member
    login(client, member)
    headers = bearer(member)
    statuses = [bad_page_post(client, kim).status_code, bad_api_post(client, kim, headers).status_code,
                bad_page_post(client, kim).status_code, bad_api_post(client, kim, headers).status_code]
    assert statuses == [422] * 4
    page = bad_page_post(client, kim)
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "Terlalu banyak" in page.get_data(as_text=True) and "<html" in page.get_data(as_text=True)
    assert bad_api_post(client, kim, headers).status_code == 429


def test_posting_is_limited_per_address_across_accounts(app, client, make_user, make_kim, monkeypatch):
    monkeypatch.setitem(app.config, "POST_LIMITS_ADDRESS", "3 per hour")
    one, two, elsewhere = make_user(), make_user(), make_user()
    kim = make_kim(members=[(one, "anggota"), (two, "anggota"), (elsewhere, "anggota")])
    statuses = [bad_api_post(client, kim, bearer(user), ATTACKER).status_code for user in (one, two, one, two)]
    assert statuses == [422] * 3 + [429]
    assert bad_api_post(client, kim, bearer(elsewhere), OWNER_HOME).status_code == 422


def test_kim_registration_attempts_are_limited_on_page_and_api(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "POST_LIMITS_ACCOUNT", "3 per minute")
    user = make_user()
    login(client, user)
    headers = bearer(user)
    statuses = [client.post("/kim/daftar", data={"name": "", "csrf_token": csrf_token(client)}).status_code,
                client.post("/api/v1/kims", json={"name": ""}, headers=headers).status_code,
                client.post("/api/v1/kims", json={"name": ""}, headers=headers).status_code]
    assert statuses == [422] * 3
    assert client.post("/kim/daftar", data={"name": "", "csrf_token": csrf_token(client)}).status_code == 429
