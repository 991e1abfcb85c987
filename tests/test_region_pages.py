"""Region pages: list, detail with breadcrumb and children, search; in Indonesian and English."""
import re

import pytest


def test_province_list_shows_both_sample_provinces_with_counts(client):
    page = client.get("/wilayah")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Sulawesi Barat" in html and "Sulawesi Selatan" in html
    assert "Wilayah" in html  # Indonesian by default
    # Sulawesi Barat: 6 kabupaten, 69 kecamatan, 648 desa/kelurahan (data README).
    row = re.search(r"<tr>\s*<td>76</td>.*?</tr>", html, re.S).group(0)
    assert [int(n) for n in re.findall(r'class="num">([\d.,]+)<', row)] == [6, 69, 648]


def test_kabupaten_page_has_breadcrumb_children_and_map(client):
    html = client.get("/wilayah/76.02").get_data(as_text=True)
    assert "<h1>Kabupaten Mamuju</h1>" in html
    breadcrumb = re.search(r'<nav class="breadcrumb".*?</nav>', html, re.S).group(0)
    assert 'href="/wilayah/76"' in breadcrumb and "Prov. Sulawesi Barat" in breadcrumb
    assert 'aria-current="page">Kab. Mamuju<' in breadcrumb
    assert 'href="/wilayah/76.02.01"' in html  # kecamatan Mamuju
    # The map: a folium div, Leaflet from static/vendor, and the boundary inline.
    assert 'class="folium-map"' in html
    assert "/static/vendor/leaflet/leaflet." in html
    assert "cdn.jsdelivr" not in html and "code.jquery" not in html and "bootstrapcdn" not in html
    assert '"MultiPolygon"' in html or '"Polygon"' in html


def test_desa_page_shows_the_full_path_and_a_point_map(client):
    html = client.get("/wilayah/76.02.01.1002").get_data(as_text=True)
    for ancestor in ("/wilayah/76", "/wilayah/76.02", "/wilayah/76.02.01"):
        assert f'href="{ancestor}"' in html
    assert "Kec. Mamuju" in html
    assert "circle_marker" in html  # desa have a point, shown inside the kecamatan outline


def test_desa_without_point_still_renders_without_a_map(client):
    page = client.get("/wilayah/73.15.09.1006")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Kelurahan Samaturue" in html
    assert "circle_marker" not in html


def test_children_are_paginated(app, client):
    app.config["REGION_CHILDREN_PER_PAGE"] = 5
    try:
        first = client.get("/wilayah/76.02").get_data(as_text=True)
        second = client.get("/wilayah/76.02?page=2").get_data(as_text=True)
    finally:
        app.config["REGION_CHILDREN_PER_PAGE"] = 50
    # Kecamatan of Kab. Mamuju in code order: 01 02 03 04 07 | 08 11 12 13 15 | 16
    assert 'href="/wilayah/76.02.07"' in first and 'href="/wilayah/76.02.08"' not in first
    assert 'href="/wilayah/76.02.08"' in second and 'href="/wilayah/76.02.07"' not in second
    assert 'rel="next"' in first and 'href="/wilayah/76.02?page=2"' in first
    assert 'rel="prev"' in second


@pytest.mark.parametrize("code", ["99", "76.99", "not-a-code", "76.02.01.9999"])
def test_unknown_or_malformed_codes_are_404_pages(client, code):
    page = client.get(f"/wilayah/{code}")
    assert page.status_code == 404
    assert "text/html" in page.content_type
    assert "Halaman tidak ditemukan" in page.get_data(as_text=True)


def test_english_is_available_on_a_toggle(client):
    toggle = client.get("/bahasa/en?next=/wilayah/76")
    assert toggle.status_code == 302 and toggle.headers["Location"] == "/wilayah/76"
    assert "lang=en" in toggle.headers["Set-Cookie"]
    html = client.get("/wilayah/76").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Regencies and cities" in html and "Kabupaten/Kota" not in html
    client.get("/bahasa/id")
    html = client.get("/wilayah/76").get_data(as_text=True)
    assert '<html lang="id">' in html and "Kabupaten/Kota" in html


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil", "javascript:alert(1)"])
def test_language_toggle_never_redirects_off_site(client, target):
    toggle = client.get("/bahasa/en", query_string={"next": target})
    assert toggle.headers["Location"] == "/"


def test_navigation_lists_the_sections_to_come(client):
    html = client.get("/").get_data(as_text=True)
    nav = re.search(r'<nav class="main-nav".*?</nav>', html, re.S).group(0)
    for label in ("Peta", "KIM", "Kegiatan", "Cakupan", "Teladan", "Wilayah", "Masuk"):
        assert label in nav
    assert 'href="/wilayah"' in nav
