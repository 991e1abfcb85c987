"""Light pages (issue 16): compressed answers, static files under content-hashed names cached
for good, numbers with the locale's separators."""
import gzip
import hashlib
import math
import re

import brotli
import mapbox_vector_tile
import pytest
from flask import url_for

from kim_platform.core import assets
from kim_platform.core.assets import IMMUTABLE, REVALIDATE
from kim_platform.maps import tiles
from tests.conftest import DESA_POINT



def _decode(response) -> bytes:
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(response.data)
    if encoding == "gzip":
        return gzip.decompress(response.data)
    assert encoding is None, encoding
    return response.data


def _static_url(app, filename: str) -> str:
    with app.test_request_context():
        return url_for("static", filename=filename)


@pytest.mark.parametrize("accept, expected", [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("", None),
                                              ("br;q=0, gzip;q=0.5", "gzip")])
def test_pages_are_compressed_as_the_browser_accepts(client, accept, expected):
    plain = client.get("/wilayah").get_data()
    response = client.get("/wilayah", headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == expected
    assert "Accept-Encoding" in response.headers["Vary"]
    body = _decode(response)
    # The same page (only the CSP nonce and CSRF token differ between two renderings).
    assert len(body) > 2000 and abs(len(body) - len(plain)) < 100
    if expected:
        assert len(response.data) < len(body) / 2


def test_api_json_is_compressed_but_tiny_answers_are_not(client):
    listing = client.get("/api/v1/regions?per_page=50", headers={"Accept-Encoding": "br, gzip"})
    assert listing.headers["Content-Encoding"] == "br" and b'"items"' in _decode(listing)
    tiny = client.get("/api/v1/regions/99", headers={"Accept-Encoding": "br, gzip"})
    assert tiny.status_code == 404 and len(tiny.data) < 1024
    assert "Content-Encoding" not in tiny.headers and b'"error"' in tiny.data


def test_images_and_gzipped_tiles_are_not_compressed_again(app, client, make_kim):
    png = client.get(_static_url(app, "vendor/leaflet/images/layers-2x.png"), headers={"Accept-Encoding": "br, gzip"})
    assert png.status_code == 200 and png.mimetype == "image/png" and "Content-Encoding" not in png.headers
    assert png.data.startswith(b"\x89PNG")
    tiles.cache.clear()
    tiles.forget_version()
    make_kim()
    z, n = 14, 2 ** 14
    lat, lon = DESA_POINT
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    tile = client.get(f"/tiles/kims/{z}/{x}/{y}.pbf", headers={"Accept-Encoding": "br, gzip"})
    assert tile.status_code == 200 and tile.headers["Content-Encoding"] == "gzip"
    # Gzipped once (by the tile cache), not wrapped again by the response compression.
    assert mapbox_vector_tile.decode(gzip.decompress(tile.data))["kims"]["features"]


def test_static_urls_carry_a_hash_of_the_contents(app):
    url = _static_url(app, "css/site.css")
    match = re.fullmatch(r"/static/css/site\.([0-9a-f]{12})\.css", url)
    assert match, url
    with open(f"{app.static_folder}/css/site.css", "rb") as handle:
        assert match.group(1) == hashlib.sha256(handle.read()).hexdigest()[:12]
    # Files the manifest does not know keep their name.
    assert _static_url(app, "css/nothing-here.css") == "/static/css/nothing-here.css"


def test_pages_link_the_hashed_names(client):
    html = client.get("/peta").get_data(as_text=True)
    for name in ("css/site", "vendor/leaflet/leaflet", "vendor/leaflet/leaflet",
                 "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min", "js/national-map"):
        assert re.search(rf'"/static/{re.escape(name)}\.[0-9a-f]{{12}}\.(css|js)"', html), name
    assert '"/static/vendor/leaflet/leaflet.js"' not in html and '"/static/css/site.css"' not in html


def test_hashed_static_files_are_immutable_and_plain_names_revalidate(app, client):
    hashed = client.get(_static_url(app, "vendor/leaflet/leaflet.js"), headers={"Accept-Encoding": "br, gzip"})
    assert hashed.status_code == 200 and hashed.headers["Cache-Control"] == IMMUTABLE
    assert hashed.headers["Content-Encoding"] == "br" and hashed.mimetype == "text/javascript"
    with open(f"{app.static_folder}/vendor/leaflet/leaflet.js", "rb") as handle:
        original = handle.read()
    assert _decode(hashed) == original and len(hashed.data) < len(original) / 3
    gzipped = client.get(_static_url(app, "vendor/leaflet/leaflet.js"), headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip" and _decode(gzipped) == original
    assert gzipped.headers["ETag"] != hashed.headers["ETag"]  # one validator per encoding

    plain = client.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == 200 and plain.headers["Cache-Control"] == REVALIDATE
    assert _decode(plain) == original
    again = client.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip",
                                                                     "If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    identity = client.get("/static/vendor/leaflet/leaflet.js")
    assert "Content-Encoding" not in identity.headers and identity.data == original
    assert client.get("/static/vendor/leaflet/nothing.js").status_code == 404
    assert client.get("/static/vendor/leaflet/leaflet.000000000000.js").status_code == 404


def test_leaflet_stylesheet_images_resolve_to_hashed_immutable_files(app, client):
    css_url = _static_url(app, "vendor/leaflet/leaflet.css")
    css = client.get(css_url).get_data(as_text=True)
    references = re.findall(r"url\(([^)#]+)\)", css)
    assert len(references) == 3, references
    folder = css_url.rsplit("/", 1)[0]
    for ref in references:
        image = client.get(f"{folder}/{ref}")
        assert image.status_code == 200 and image.mimetype == "image/png"
        if ref == "images/marker-icon.png":
            # Leaflet strips this name from the url() to find its image folder: it stays as it is.
            assert image.headers["Cache-Control"] == REVALIDATE
        else:
            assert re.fullmatch(r"images/[\w-]+\.[0-9a-f]{12}\.png", ref), ref
            assert image.headers["Cache-Control"] == IMMUTABLE
    assert "images/marker-icon.png" in references
    # The stylesheet's own hash covers the rewritten references: a new image gives a new name.
    assert css_url.split(".")[-2] == hashlib.sha256(css.encode()).hexdigest()[:12]


def test_css_rewrite_leaves_foreign_and_unknown_references():
    names = {"img/a.png": "img/a.0123456789ab.png"}
    body = (b"a{background:url('../img/a.png?v=1')} b{background:url(data:image/png;base64,xx)}"
            b" c{background:url(https://x.example/a.png)} d{background:url(#vml)} e{background:url(\"gone.png\")}")
    out = assets._rewrite_css("css/site.css", body, names).decode()
    assert "url('../img/a.0123456789ab.png?v=1')" in out
    assert "url(data:image/png;base64,xx)" in out and "url(https://x.example/a.png)" in out
    assert "url(#vml)" in out and 'url("gone.png")' in out


@pytest.mark.parametrize("lang, expected", [("id", "49.509 laporan"), ("en", "49,509 reports")])
def test_whole_numbers_in_interface_strings_use_the_locale_separators(app, lang, expected):
    from flask import render_template_string

    with app.test_request_context(f"/?lang={lang}"):
        assert render_template_string('{{ ngettext("%(num)d report", "%(num)d reports", n) }}', n=49509) == expected
        months = render_template_string('{{ _("The last %(n)d months", n=1200) }}')
        assert months == ("1.200 bulan terakhir" if lang == "id" else "The last 1,200 months")
        # Text values are still escaped; strings without numbers are untouched.
        assert render_template_string('{{ _("Activities in %(region)s", region="<b>") }}').endswith("&lt;b&gt;")


def test_the_feed_counts_with_the_locale_separators(client, monkeypatch):
    """The national feed's count: 49.509 laporan (the demo set's size), 49,509 reports in English."""
    import dataclasses

    from kim_platform.activities import views

    real_feed = views.queries.feed
    monkeypatch.setattr(views.queries, "feed",
                        lambda *args, **kwargs: dataclasses.replace(real_feed(*args, **kwargs), total=49509))
    assert "<p>49.509 laporan" in client.get("/kegiatan").get_data(as_text=True)
    assert "<p>49,509 reports" in client.get("/kegiatan?lang=en").get_data(as_text=True)


def _bench():
    """bench/light_pages.py, imported from its file (bench/ is not a package)."""
    import importlib.util

    from kim_platform.config import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location("light_pages_bench", PROJECT_ROOT / "bench" / "light_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _FakeContext:
    def __init__(self):
        self.handlers = {}

    def on(self, event, handler):
        self.handlers[event] = handler


class _FakeRequest:
    def __init__(self, url, body, headers, worker):
        self.url, self._sizes, self.service_worker = url, {"responseBodySize": body, "responseHeadersSize": headers}, worker

    def sizes(self):
        return self._sizes

    def response(self):
        return None


class _FakeMeter:
    def __init__(self, page_bytes, requests, from_worker):
        self.bytes, self.requests, self.from_worker, self.urls = page_bytes, requests, from_worker, []


def test_the_pages_benchmark_counts_the_service_workers_own_requests():
    """A repeat visit served by the worker showed 0 KB while the worker fetched the page from the
    network: its requests count, on the first and the repeat visit, and are printed apart."""
    bench = _bench()
    context = _FakeContext()
    workers = bench.WorkerMeter(context)
    finished = context.handlers["requestfinished"]
    finished(_FakeRequest("http://x/peta", 2500, 500, worker=object()))  # the worker's network-first fetch
    finished(_FakeRequest("http://x/static/site.css", 9000, 400, worker=None))  # the page's own: Meter counts it
    figures = bench._figures(_FakeMeter(0, 6, 6), workers, 0.4)
    assert figures["bytes"] == 3000 and figures["service_worker_bytes"] == 3000
    assert figures["service_worker_requests"] == 1 and figures["page_bytes"] == 0
    row = {"name": "Peta", "path": "/peta", "service_worker": True, "first": figures, "repeat": figures}
    assert re.search(r"repeat +2\.9 KB \(of it: worker 2\.9 KB in 1 req\)", bench._line(row))
    workers.reset()
    assert bench._figures(_FakeMeter(0, 0, 0), workers, None)["bytes"] == 0


def test_map_pages_load_leaflet_below_the_page_and_defer_the_offline_app(client):
    """Leaflet in <head> held the whole page's first paint; the app's install on top of a map page
    took it over 150 KB. Leaflet comes right before the map; app.js is told to install later."""
    for url in ("/peta", "/cakupan"):
        html = client.get(url).get_data(as_text=True)
        head, body = html.split("</head>", 1)
        assert "vendor/leaflet/leaflet." not in head, url
        assert body.index("vendor/leaflet/leaflet.") < body.index('class="leaflet') if 'class="leaflet' in body \
            else "vendor/leaflet/leaflet." in body
        assert re.search(r'<script src="/static/js/app\.[0-9a-f]+\.js" defer data-sw="/sw.js"\s+data-install="later"',
                         head), url
    home = client.get("/").get_data(as_text=True)
    assert 'data-install="later"' not in home
