"""What a cluster needs of each app node: a health check for the load balancer, its name on every
answer (KIM_NODE_NAME), and the static files exported for nginx exactly as the app serves them."""
import gzip

from kim_platform import create_app


def test_health_check_answers_ok_from_the_database(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}
    assert answer.headers["Cache-Control"] == "no-store"


def test_health_check_is_503_when_the_database_is_gone():
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://kim@127.0.0.1:9/none"})
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503 and answer.get_json() == {"status": "unavailable"}


def test_no_node_header_unless_the_node_has_a_name(app, client, monkeypatch):
    assert "X-Kim-Node" not in client.get("/healthz").headers
    monkeypatch.setitem(app.config, "NODE_NAME", "kim-a")
    for path in ("/healthz", "/wilayah/76", "/api/v1/regions?per_page=1", "/no-such-page"):
        assert client.get(path).headers["X-Kim-Node"] == "kim-a", path


def test_node_name_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("KIM_NODE_NAME", "kim-b")
    assert create_app("testing").config["NODE_NAME"] == "kim-b"
    monkeypatch.delenv("KIM_NODE_NAME")
    assert create_app("testing").config["NODE_NAME"] is None


def test_static_export_writes_what_the_app_serves(app, client, runner, tmp_path):
    result = runner.invoke(args=["static", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    manifest = app.extensions["static_manifest"]
    stylesheet = manifest.by_path["css/site.css"]
    assert stylesheet.hashed != stylesheet.path
    served = client.get(f"/static/{stylesheet.hashed}", headers={"Accept-Encoding": "identity"})
    exported = (tmp_path / stylesheet.hashed).read_bytes()
    assert exported == served.get_data() == (tmp_path / "css" / "site.css").read_bytes()
    assert gzip.decompress((tmp_path / f"{stylesheet.hashed}.gz").read_bytes()) == exported
    # Images are compressed already: no .gz beside them.
    icon = manifest.by_path["icons/icon-192.png"]
    assert (tmp_path / icon.hashed).exists() and not (tmp_path / f"{icon.hashed}.gz").exists()
    assert len(list(tmp_path.rglob("*"))) > 2 * len(manifest.by_path)
    # A second export writes nothing (same contents) and deletes nothing (a rolling upgrade's old names).
    stale = tmp_path / "css" / "site.000000000000.css"
    stale.write_text("old release")
    again = runner.invoke(args=["static", "export", str(tmp_path)])
    assert again.exit_code == 0 and again.output.startswith("0 static files written")
    assert stale.read_text() == "old release"
