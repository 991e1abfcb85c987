"""The layers of docs/architecture.md hold (the import contracts in setup.cfg), and core names no
domain's tables (issue 15: layers written down and checked)."""
import ast
import os
import re
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
        ("activity_pending_photo", "original_key"), ("activity_photo", "key"), ("activity_photo", "thumb_key"), ("aspiration_photo", "key"),
        ("aspiration_photo", "thumb_key"), ("campaign_material", "key"),
        ("campaign_material", "thumb_key"), ("data_export", "storage_key"), ("kim", "logo_key"), ("kim", "sk_file_key"),
        ("kim_sk_version", "file_key")]


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


# Status codes are named once, next to their models (issue 15: named constants for statuses).
STATUS_WORDS = frozenset({
    "draft", "submitted", "verified", "rejected", "inactive",  # KimStatus
    "published", "hidden",  # ActivityStatus (and its draft)
    "pending", "accepted", "declined",  # InvitationStatus
    "closed",  # CampaignStatus (and its draft, published)
})
# Where the words are the definition itself: the constant classes in the models.
STATUS_DEFINITIONS = {
    "kim_platform/kims/models.py": {"KimStatus", "InvitationStatus"},
    "kim_platform/activities/models.py": {"ActivityStatus", "PendingAction"},
    "kim_platform/campaigns/models.py": {"CampaignStatus"},
}
# Literals that are the same word but no status, each with its reason (keep it tiny).
STATUS_WORD_ALLOWED = {
    ("kim_platform/coverage/views.py", "verified"): "the coverage chart's series key, a CSS class of its line",
}
GETTEXT_CALLS = frozenset({"_", "_l", "gettext", "lazy_gettext", "ngettext"})
SQL_STATUS_LITERAL = re.compile(r"'(%s)'" % "|".join(sorted(STATUS_WORDS)))
JINJA_BLOCK = re.compile(r"{%.*?%}|{{.*?}}", re.S)
JINJA_GETTEXT = re.compile(r"""\b_\(\s*(['"]).*?\1""", re.S)
JINJA_STATUS_LITERAL = re.compile(r"""(['"])(%s)\1""" % "|".join(sorted(STATUS_WORDS)))


def _status_literals(source: str, defining: set[str]) -> list[tuple[int, str]]:
    """(line, text) of every string constant that is a status word, or SQL quoting one
    ('verified'), outside docstrings, gettext msgids and the defining classes."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                skipped.add(id(body[0].value))  # a docstring
            if isinstance(node, ast.ClassDef) and node.name in defining:
                skipped.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in GETTEXT_CALLS:
                skipped.update(id(n) for arg in node.args for n in ast.walk(arg))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            if node.value in STATUS_WORDS:
                found.append((node.lineno, node.col_offset, node.value))
            found.extend((node.lineno, node.col_offset, f"'{m}'") for m in SQL_STATUS_LITERAL.findall(node.value))
    return [(line, text) for line, _, text in sorted(found)]


def status_literal_offenders(root: Path) -> list[str]:
    offenders = []
    for path in sorted((root / "kim_platform").rglob("*.py")):
        name = path.relative_to(root).as_posix()
        for line, literal in _status_literals(path.read_text(encoding="utf-8"), STATUS_DEFINITIONS.get(name, set())):
            if (name, literal) not in STATUS_WORD_ALLOWED:
                offenders.append(f"{name}:{line}: {literal}")
    for path in sorted((root / "templates").rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        for block in JINJA_BLOCK.finditer(source):
            for literal in JINJA_STATUS_LITERAL.finditer(JINJA_GETTEXT.sub("", block.group())):
                line = source.count("\n", 0, block.start()) + 1
                offenders.append(f"{path.relative_to(root).as_posix()}:{line}: {literal.group()}")
    return offenders


def test_statuses_are_written_only_by_their_constants():
    """Python compares and binds KimStatus / ActivityStatus / InvitationStatus (SQL binds them as
    parameters); templates use the same constants (Jinja globals) and show the labels."""
    offenders = status_literal_offenders(ROOT)
    assert not offenders, "\n".join(offenders)


def test_the_status_scan_catches_each_spelling(tmp_path):
    """The scan is not blind: a comparison, a default, SQL and a template comparison are caught;
    a docstring, a msgid and the definitions are not."""
    (tmp_path / "kim_platform" / "kims").mkdir(parents=True)
    (tmp_path / "templates").mkdir()
    (tmp_path / "kim_platform" / "kims" / "models.py").write_text(
        'class KimStatus:\n    VERIFIED = "verified"\n')
    (tmp_path / "kim_platform" / "x.py").write_text(
        '"""Only "verified" KIMs."""\n'
        'LABEL = _l("draft")\n'
        'def f(kim, status="draft"):\n'
        '    """Docstring naming \'published\'."""\n'
        '    return kim.status == "verified" or kim.status in ("inactive",)\n'
        'SQL = "SELECT 1 FROM activity WHERE status = \'published\'"\n')
    (tmp_path / "templates" / "t.html").write_text(
        "{% if kim.status == 'rejected' %}{{ _('inactive') }}{% endif %} value=\"draft\"\n")
    assert status_literal_offenders(tmp_path) == [
        "kim_platform/x.py:3: draft", "kim_platform/x.py:5: verified", "kim_platform/x.py:5: inactive",
        "kim_platform/x.py:6: 'published'", "templates/t.html:1: 'rejected'"]
