"""The public pages' maps (core.maps.PageMap) write what folium writes for the same map, without
folium's per-request template compiling, and never evaluate a label as a template."""
import json
import re

import folium
import pytest

from kim_platform.core import maps

SQUARE = '{"type":"Polygon","coordinates":[[[119.1,-5.1],[119.2,-5.1],[119.2,-5.2],[119.1,-5.1]]]}'
MULTI = ('{"type":"MultiPolygon","coordinates":[[[[119.1,-5.1],[119.25,-5.1],[119.2,-5.3],[119.1,-5.1]]],'
         '[[[120.0,-4.0],[120.5,-4.0],[120.5,-4.5],[120.0,-4.0]]]]}')


def _ids_normalised(markup) -> str:
    return re.sub(r"_[0-9a-f]{32}", "_ID", str(markup))


def _folium(fmap) -> str:
    """What embed() wrote when every map was a folium map (the reference)."""
    root = fmap.get_root()
    root.render()
    return f'{root.html.render()}\n<script nonce="{maps.csp_nonce()}">{root.script.render()}</script>'


def _folium_geojson(fmap, text, style, label=None):
    return maps._with_tooltip(folium.GeoJson(json.loads(text), style_function=lambda _: style, control=False),
                              label).add_to(fmap)


def _folium_circle(fmap, location, radius, color, opacity, label):
    return maps._with_tooltip(folium.CircleMarker(location=list(location), radius=radius, color=color,
                                                  fill=True, fill_opacity=opacity), label).add_to(fmap)


def _folium_region_map(boundary, centroid, bbox, context, label):
    fmap = maps.new_map(location=centroid or (-2.5, 118.0), zoom_start=13)
    if context:
        _folium_geojson(fmap, context, maps.CONTEXT_STYLE)
    if boundary:
        _folium_geojson(fmap, boundary, maps.BOUNDARY_STYLE, label)
    if centroid and not boundary:
        _folium_circle(fmap, centroid, 7, "#0b6e4f", 0.8, label)
    if bbox:
        minlon, minlat, maxlon, maxlat = bbox
        fmap.fit_bounds([[minlat, minlon], [maxlat, maxlon]])
    return fmap


@pytest.mark.parametrize("boundary, centroid, bbox, context, label", [
    (SQUARE, (-5.15, 119.15), (119.1, -5.2, 119.2, -5.1), None, "Kabupaten Mamuju"),
    (MULTI, (-4.6, 119.8), (119.1, -5.3, 120.5, -4.0), SQUARE, "Kota \"Baru\" & <Lama>"),
    (None, (-5.15, 119.15), (119.1, -5.2, 119.2, -5.1), SQUARE, "Desa O'ne"),
    (None, (-5, 119), None, None, ""),
])
def test_region_map_writes_what_folium_writes(app, boundary, centroid, bbox, context, label):
    with app.test_request_context("/"):
        ours = maps.embed(maps.region_map(boundary, centroid, bbox, context, label=label))
        reference = _folium(_folium_region_map(boundary, centroid, bbox, context, label))
    assert _ids_normalised(ours) == _ids_normalised(reference)


def test_kim_and_points_maps_write_what_folium_writes(app):
    points = [(-5.1, 119.1, "KIM Satu"), (-5.2, 119.3, "KIM </script> Dua")]
    with app.test_request_context("/"):
        kim = maps.embed(maps.kim_map((-5.1, 119.1), SQUARE, "KIM Maju"))
        fmap = maps.new_map(location=(-5.1, 119.1), zoom_start=14)
        _folium_geojson(fmap, SQUARE, maps.CONTEXT_STYLE)
        _folium_circle(fmap, (-5.1, 119.1), 8, "#0b6e4f", 0.9, "KIM Maju")
        assert _ids_normalised(kim) == _ids_normalised(_folium(fmap))
        for wanted in (points, points[:1]):
            ours = maps.embed(maps.points_map(wanted))
            fmap = maps.new_map(location=wanted[0][:2], zoom_start=12)
            for lat, lon, label in wanted:
                _folium_circle(fmap, (lat, lon), 7, "#a05a00", 0.9, label)
            if len(wanted) > 1:
                fmap.fit_bounds([[-5.2, 119.1], [-5.1, 119.3]], max_zoom=14)
            assert _ids_normalised(ours) == _ids_normalised(_folium(fmap))


def test_a_bare_page_map_writes_what_folium_writes(app):
    with app.test_request_context("/"):
        ours = maps.PageMap(location=(-2.5, 118.0), zoom_start=8)
        ours.fit_bounds([[-5.2, 119.1], [-5.1, 119.3]])
        fmap = maps.new_map(location=(-2.5, 118.0), zoom_start=8)
        fmap.fit_bounds([[-5.2, 119.1], [-5.1, 119.3]])
        assert _ids_normalised(maps.embed(ours)) == _ids_normalised(_folium(fmap))
        assert ours.get_name().startswith("map_") and ours.get_name() in maps.embed(ours)


@pytest.mark.parametrize("label", ["KIM {{ 7*7 }}", "{% raw %}", "{{ config }}"])
def test_a_label_is_text_never_a_template(app, label):
    """folium compiled each rendered piece as a new Jinja template: '{{ 7*7 }}' in a KIM's name came
    out as 49 (a template evaluated on the server) and an unclosed '{%' was a 500."""
    with app.test_request_context("/"):
        html = str(maps.embed(maps.kim_map((-5.1, 119.1), None, label)))
    assert f"createTextNode({json.dumps(label)})" in html


def test_the_oversight_maps_write_what_folium_writes(app):
    """Aspiration performance and campaign reach: an outline, then circles sized by a figure (a
    fractional radius) with their tooltips, as the two dashboards drew them with folium."""
    circles = [((-5.1, 119.1), 5 + 37 ** 0.5, "#b00020", 0.8, "Kab. Mamuju: 37 items, 3 overdue"),
               ((-5.2, 119.3), 4 + 62.5 / 8, "#0b6e4f", 0.85, "Kec. Tapalang: 5 of 8 desa reached")]
    with app.test_request_context("/"):
        ours = maps.PageMap(location=(-5.15, 119.2), zoom_start=8)
        ours.add_geojson(SQUARE, maps.OUTLINE_STYLE)
        ours.fit_bounds([[-5.2, 119.1], [-5.1, 119.2]])
        fmap = maps.new_map(location=(-5.15, 119.2), zoom_start=8)
        _folium_geojson(fmap, SQUARE, maps.OUTLINE_STYLE)
        fmap.fit_bounds([[-5.2, 119.1], [-5.1, 119.2]])
        for location, radius, colour, opacity, label in circles:
            ours.add_circle(location, radius, colour, opacity, label)
            _folium_circle(fmap, location, radius, colour, opacity, label)
        assert _ids_normalised(maps.embed(ours)) == _ids_normalised(_folium(fmap))
        # folium evaluated a label as a template (a region named "{{ 7*7 }}" showed 49); ours never does.
        ours.add_circle((-5.3, 119.4), 6, "#0b6e4f", 0.85, "Kec. {{ 7*7 }}")
        assert 'createTextNode("Kec. {{ 7*7 }}")' in str(maps.embed(ours))
