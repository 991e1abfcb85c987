"""The programme's name is Komunitas Informasi Masyarakat (Permenkominfo 4/2024), everywhere;
and browsers asking for /favicon.ico get an icon instead of a 404."""
import io
import re

import pytest
from PIL import Image

from kim_platform.config import PROJECT_ROOT

WRONG_NAME = re.compile(r"kelompok\s+informasi", re.IGNORECASE)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_home_page_uses_the_official_name(client, lang):
    html = client.get(f"/?lang={lang}").get_data(as_text=True)
    assert "Komunitas Informasi Masyarakat" in html
    assert not WRONG_NAME.search(html)
    assert "Community Information Groups" not in html


def test_no_interface_text_catalogue_or_document_uses_the_old_name():
    roots = ["kim_platform", "templates", "static/js", "docs", "seed_data"]
    files = [PROJECT_ROOT / "README.md"] + [
        path for root in roots for path in (PROJECT_ROOT / root).rglob("*")
        if path.is_file() and path.suffix in {".py", ".html", ".xml", ".po", ".md", ".js", ".txt", ".csv"}]
    offenders = [str(path.relative_to(PROJECT_ROOT)) for path in files
                 if WRONG_NAME.search(path.read_text(encoding="utf-8", errors="replace"))]
    assert not offenders


def test_favicon_is_served_at_the_root_and_linked_from_every_page(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/vnd.microsoft.icon"
        assert "max-age=" in response.headers["Cache-Control"]
        icon = Image.open(io.BytesIO(response.data))
        assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]
        assert len(response.data) < 10_000
    with client.get("/static/favicon.svg") as svg:
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    for path in ("/", "/kim", "/masuk", "/tidak-ada"):
        html = client.get(path).get_data(as_text=True)
        assert 'rel="icon" href="/static/favicon.' in html and 'rel="icon" href="/favicon.ico"' in html, path
