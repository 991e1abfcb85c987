"""The layers of docs/architecture.md hold (the import contracts in setup.cfg), and core names no
domain's tables (issue 15: layers written down and checked)."""
import os
import subprocess
import sys
from pathlib import Path

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
        ("activity_photo", "key"), ("activity_photo", "thumb_key"), ("kim", "logo_key"), ("kim", "sk_file_key")]


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
