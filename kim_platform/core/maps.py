"""Small folium maps embedded in our own pages.

folium normally writes a whole HTML document pulling Leaflet, jQuery and Bootstrap from
CDNs. We keep only the map's <div> and its script (under the page's CSP nonce) and load
Leaflet once from static/vendor in the page template.
"""
import json

import folium
from branca.element import MacroElement
from flask import current_app, url_for
from folium.template import Template
from folium.utilities import remove_empty
from markupsafe import Markup

from kim_platform.core.security import csp_nonce

BOUNDARY_STYLE = {"color": "#0b6e4f", "weight": 2, "fillColor": "#0b6e4f", "fillOpacity": 0.12}
CONTEXT_STYLE = {"color": "#555555", "weight": 1, "dashArray": "4 4", "fillOpacity": 0.03}


class TextTooltip(MacroElement):
    """A tooltip that shows its text as text, whatever characters a user typed into it.

    folium's Tooltip puts its text inside a JavaScript template literal and Leaflet sets it as
    innerHTML, so `\\u003c`, `${…}` or a backtick in a name became markup (or broke the whole
    script). Here the text reaches the script as a JSON string (`tojson` escapes `<`, `>`, `&`
    and `'` as well, so `</script>` cannot close the tag) and the DOM as a text node.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.bindTooltip(function () {
                var box = document.createElement("div");
                box.appendChild(document.createTextNode({{ this.text|tojson }}));
                return box;
            }(), {"sticky": true});
        {% endmacro %}
    """)

    def __init__(self, text: str):
        super().__init__()
        self._name = "TextTooltip"
        self.text = str(text)


def _with_tooltip(element, label: str | None):
    """Attach a text tooltip to a folium element when there is a label."""
    if label:
        element.add_child(TextTooltip(label))
    return element


class LocalMap(folium.Map):
    """A folium Map whose assets, if its full document is ever rendered, are ours."""

    default_js = [("leaflet", "/static/vendor/leaflet/leaflet.js")]
    default_css = [("leaflet_css", "/static/vendor/leaflet/leaflet.css")]


class UrlTileLayer(folium.TileLayer):
    """folium's TileLayer for a tile URL template, as folium builds it for one, without its look-up
    of the string among xyzservices' named providers first (a scan of them all: ~10 ms a map)."""

    def __init__(self, url: str, attr: str, name: str, max_zoom: int):
        folium.map.Layer.__init__(self, name=name, overlay=False, control=True, show=True)
        self._name = "TileLayer"
        self.tile_name = name
        self.tiles = url
        self.options = remove_empty(min_zoom=0, max_zoom=max_zoom, max_native_zoom=max_zoom, no_wrap=False,
                                    attribution=attr, subdomains="abc", detect_retina=False, tms=False,
                                    opacity=1)


def new_map(location=(-2.5, 118.0), zoom_start=5) -> LocalMap:
    tiles = UrlTileLayer(current_app.config["TILE_URL"], current_app.config["TILE_ATTRIBUTION"],
                         "OpenStreetMap", 19)
    fmap = LocalMap(location=list(location), zoom_start=zoom_start, tiles=None, control_scale=True,
                    prefer_canvas=True)
    tiles.add_to(fmap)
    return fmap


def region_map(boundary_geojson: str | None, centroid, bbox, context_geojson: str | None = None,
               label: str = "") -> LocalMap | None:
    """A map of one region: its boundary, or its point inside its parent's outline."""
    if not boundary_geojson and not centroid:
        return None
    fmap = new_map(location=centroid or (-2.5, 118.0), zoom_start=13)
    if context_geojson:
        folium.GeoJson(json.loads(context_geojson), style_function=lambda _: CONTEXT_STYLE,
                       control=False).add_to(fmap)
    if boundary_geojson:
        _with_tooltip(folium.GeoJson(json.loads(boundary_geojson), style_function=lambda _: BOUNDARY_STYLE,
                                     control=False), label).add_to(fmap)
    if centroid and not boundary_geojson:
        _with_tooltip(folium.CircleMarker(location=list(centroid), radius=7, color="#0b6e4f", fill=True,
                                          fill_opacity=0.8), label).add_to(fmap)
    if bbox:
        minlon, minlat, maxlon, maxlat = bbox
        fmap.fit_bounds([[minlat, minlon], [maxlat, maxlon]])
    return fmap


def kim_map(point, context_geojson: str | None, label: str) -> LocalMap:
    """A KIM's pin inside the outline of its kecamatan."""
    fmap = new_map(location=point, zoom_start=14)
    if context_geojson:
        folium.GeoJson(json.loads(context_geojson), style_function=lambda _: CONTEXT_STYLE,
                       control=False).add_to(fmap)
    _with_tooltip(folium.CircleMarker(location=list(point), radius=8, color="#0b6e4f", fill=True,
                                      fill_opacity=0.9), label).add_to(fmap)
    return fmap


def points_map(points: list[tuple[float, float, str]]) -> LocalMap | None:
    """A handful of labelled points (one page of a list), fitted to their extent."""
    if not points:
        return None
    fmap = new_map(location=points[0][:2], zoom_start=12)
    for lat, lon, label in points:
        _with_tooltip(folium.CircleMarker(location=[lat, lon], radius=7, color="#a05a00", fill=True,
                                          fill_opacity=0.9), label).add_to(fmap)
    if len(points) > 1:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], max_zoom=14)
    return fmap


def embed(fmap: LocalMap) -> Markup:
    """The map's <div> and script, ready to place in a page that loads Leaflet itself."""
    root = fmap.get_root()
    root.render()
    html = root.html.render()
    script = root.script.render()
    # folium's own output; the only user text in it (tooltips) is JSON-encoded by TextTooltip.
    return Markup(f'{html}\n<script nonce="{csp_nonce()}">{script}</script>')  # nosec B704


def leaflet_assets() -> Markup:
    """<link> and <script> for the vendored Leaflet, for pages that show a map."""
    css = url_for("static", filename="vendor/leaflet/leaflet.css")
    js = url_for("static", filename="vendor/leaflet/leaflet.js")
    # Our own static URLs.
    return Markup(f'<link rel="stylesheet" href="{css}">\n<script src="{js}"></script>')  # nosec B704
