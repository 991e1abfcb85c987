"""The layers of docs/architecture.md hold (the import contracts in setup.cfg), and core names no
domain's tables (issue 15: layers written down and checked)."""
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from flask import g

from kim_platform.accounts import services as account_services
from kim_platform.core import auth, clock, throttle
from kim_platform.core.storage import storage, stored_file_columns
from kim_platform.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    """Also run by `make test` before pytest; here so every pytest run checks them too."""
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_sweep_learns_the_file_columns_from_the_models():
    assert sorted((c.table.name, c.name) for c in stored_file_columns()) == [
        ("activity_photo", "key"), ("activity_photo", "thumb_key"), ("campaign_material", "key"),
        ("campaign_material", "thumb_key"), ("kim", "logo_key"), ("kim", "sk_file_key")]


def test_the_sweep_keeps_a_kims_logo_and_sk_and_removes_orphans(app, runner, make_kim):
    with app.app_context():
        store = storage()
        logo, sk, orphan = store.save(b"logo", ".webp"), store.save(b"%PDF-1.4", ".pdf"), store.save(b"x", ".jpg")
    make_kim(logo_key=logo, sk_file_key=sk)
    db.session.flush()
    for key in (logo, sk, orphan):
        path = store.root / key[:2] / key
        os.utime(path, (path.stat().st_mtime - 86_400,) * 2)
    result = runner.invoke(args=["storage", "sweep"])
    assert result.exit_code == 0 and "1 orphan files removed" in result.output
    assert store.exists(logo) and store.exists(sk) and not store.exists(orphan)


def test_accounts_registers_the_login_wiring_on_cores_hooks(app):
    """core/auth.py and core/throttle.py know no accounts: accounts.init_app gives them its loaders."""
    assert app.extensions[auth.CREDENTIAL_LOADERS] == {"session": account_services.user_for_session_token,
                                                       "api": account_services.user_for_api_token}
    assert app.extensions[throttle.DEVICE_LOOKUP] is account_services.known_device


def test_without_registered_loaders_core_knows_nobody(app, make_user, monkeypatch):
    """The hooks are all core holds: with no loader registered a valid token and a device cookie
    belong to nobody, so nothing in core reaches into accounts by itself."""
    user = make_user()
    _, token = account_services.create_api_token(user, "uji")
    db.session.flush()
    bearer = {"Authorization": f"Bearer {token}"}
    device = {"Cookie": f"{app.config['DEVICE_COOKIE_NAME']}={account_services.device_cookie(user)}"}
    client = app.test_client()

    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    with app.test_request_context("/masuk", method="POST", data={"email": user.email}, headers=device):
        g.pop("known_device", None)  # g lives on the test's app context, not on this request
        assert throttle.known_device_id() is not None

    monkeypatch.delitem(app.extensions, auth.CREDENTIAL_LOADERS)
    monkeypatch.delitem(app.extensions, throttle.DEVICE_LOOKUP)
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    with app.test_request_context("/masuk", method="POST", data={"email": user.email}, headers=device):
        g.pop("known_device", None)  # g lives on the test's app context, not on this request
        assert throttle.known_device_id() is None

def test_now_in_utc_comes_only_from_core_clock():
    """One "now" helper (core.clock.utcnow), so frozen_clock freezes every timestamp the code takes."""
    offenders = []
    for path in sorted((ROOT / "kim_platform").rglob("*.py")):
        if path == ROOT / "kim_platform" / "core" / "clock.py":
            continue
        source = path.read_text(encoding="utf-8")
        for needle in ("def utcnow", "datetime.now(", "datetime.utcnow(", "date.today("):
            if needle in source:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert not offenders, offenders


def test_frozen_clock_freezes_utcnow(frozen_clock):
    moment = datetime(2028, 2, 29, 3, tzinfo=timezone.utc)
    frozen_clock(moment)
    assert clock.utcnow() == moment and clock.utcnow().tzinfo is not None
