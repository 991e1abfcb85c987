"""Small Leaflet maps embedded in our own pages.

folium normally writes a whole HTML document pulling Leaflet, jQuery and Bootstrap from
CDNs. We keep only the map's <div> and its script (under the page's CSP nonce) and load
Leaflet once from static/vendor in the page template.

The maps of the pages (a region, a KIM, a report, a list's preview, coverage, aspiration performance,
campaign reach; all but /peta's shell) are written by
`PageMap`, which writes the same <div> and script folium 0.20 writes for them (tests compare the two)
without building folium's element tree: folium compiled every rendered piece of a map, the
boundary's GeoJSON included, as a new Jinja template on every request (about 3 ms a page), and so
also evaluated `{{ … }}` in a KIM's name or a report's title as a template on the server.
"""
import json
import os
from binascii import hexlify

import folium
from branca.element import MacroElement
from flask import current_app, url_for
from folium.template import Template, tojavascript
from folium.utilities import remove_empty
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from kim_platform.core.security import csp_nonce

BOUNDARY_STYLE = {"color": "#0b6e4f", "weight": 2, "fillColor": "#0b6e4f", "fillOpacity": 0.12}
CONTEXT_STYLE = {"color": "#555555", "weight": 1, "dashArray": "4 4", "fillOpacity": 0.03}
# the outline under the oversight maps' circles (aspiration performance, campaign reach)
OUTLINE_STYLE = {"color": "#555", "weight": 1, "fillOpacity": 0.04}


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


def _tojson(value) -> str:
    """JSON as Jinja's `tojson` filter writes it in folium's templates (sorted keys, <>&' escaped)."""
    return str(htmlsafe_json_dumps(value, sort_keys=True))


def _new_id() -> str:
    """A fresh element id, as branca draws them."""
    return hexlify(os.urandom(16)).decode()


# The pieces of a map's script, as folium 0.20's templates render them for the elements below. Each
# piece is written after "\n    " (branca's Figure joins its script children so).
_MAP = """
            var {name} = L.map(
                {name_json},
                {{
                    center: {center},
                    crs: L.CRS.EPSG3857,
                    ...{options}

                }}
            );
            L.control.scale().addTo({name});

            

        """
_TILE_LAYER = """
            var {name} = L.tileLayer(
                {url},
                {options}

            );
        """
_ADD_TO = """
            {name}.addTo({parent});
        """
_GEOJSON = """
        function {name}_styler(feature) {{
            switch(feature.id) {{
                default:
                    return {style};
            }}
        }}

        function {name}_onEachFeature(feature, layer) {{

            layer.on({{
            }});
        }};
        var {name} = L.geoJson(null, {{
                onEachFeature: {name}_onEachFeature,
            
                style: {name}_styler,
            ...{{
}}
        }});

        function {name}_add (data) {{
            {name}
                .addData(data);
        }}
            {name}_add({data});

        """
_CIRCLE_MARKER = """
            var {name} = L.circleMarker(
                {location},
                {options}
            ).addTo({parent});
        """
_TOOLTIP = """
            {name}.bindTooltip(function () {{
                var box = document.createElement("div");
                box.appendChild(document.createTextNode({text}));
                return box;
            }}(), {{"sticky": true}});
        """
_FIT_BOUNDS = """
            {name}.fitBounds(
                {bounds},
                {options}
            );
        """


class PageMap:
    """A map of a public page: the OpenStreetMap layer, GeoJSON outlines, circle markers with text
    tooltips and a fitted extent, written as folium writes them (see the module's docstring).
    Labels reach the script as JSON strings only, never as template source."""

    def __init__(self, location=(-2.5, 118.0), zoom_start=5):
        self.name = f"map_{_new_id()}"
        config = current_app.config
        tiles = f"tile_layer_{_new_id()}"
        options = {"zoom": zoom_start, "zoomControl": True, "preferCanvas": True}
        tile_options = remove_empty(min_zoom=0, max_zoom=19, max_native_zoom=19, no_wrap=False,
                                    attribution=config["TILE_ATTRIBUTION"], subdomains="abc",
                                    detect_retina=False, tms=False, opacity=1)
        self._pieces = [
            _MAP.format(name=self.name, name_json=_tojson(self.name),
                        center=_tojson([float(x) for x in location]), options=tojavascript(options)),
            _TILE_LAYER.format(name=tiles, url=_tojson(config["TILE_URL"]), options=tojavascript(tile_options)),
            _ADD_TO.format(name=tiles, parent=self.name),
        ]

    def get_name(self) -> str:
        """The map's JavaScript variable (window[name] for the page's scripts), as folium's."""
        return self.name

    def _tooltip(self, name: str, label: str | None) -> None:
        if label:
            self._pieces.append(_TOOLTIP.format(name=name, text=_tojson(str(label))))

    def add_geojson(self, geojson: str, style: dict, label: str | None = None) -> None:
        """One geometry (PostGIS's GeoJSON text) as folium's GeoJson with a style function: a
        collection of one feature with id "0"."""
        name = f"geo_json_{_new_id()}"
        data = {"type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": json.loads(geojson), "id": "0"}]}
        self._pieces.append(_GEOJSON.format(name=name, style=json.dumps(style, sort_keys=True),
                                            data=_tojson(data)))
        self._tooltip(name, label)
        self._pieces.append(_ADD_TO.format(name=name, parent=self.name))

    def add_circle(self, location, radius: float, color: str, fill_opacity: float, label: str | None = None) -> None:
        """A circle marker as folium's CircleMarker(radius, color, fill=True, fill_opacity) writes it."""
        name = f"circle_marker_{_new_id()}"
        options = {"bubblingMouseEvents": True, "color": color, "dashArray": None, "dashOffset": None,
                   "fill": True, "fillColor": color, "fillOpacity": fill_opacity, "fillRule": "evenodd",
                   "lineCap": "round", "lineJoin": "round", "opacity": 1.0, "radius": radius, "stroke": True,
                   "weight": 3}
        self._pieces.append(_CIRCLE_MARKER.format(name=name, location=_tojson([float(x) for x in location]),
                                                  options=_tojson(options), parent=self.name))
        self._tooltip(name, label)

    def fit_bounds(self, bounds, max_zoom: int | None = None) -> None:
        options = {"maxZoom": max_zoom} if max_zoom is not None else {}
        self._pieces.append(_FIT_BOUNDS.format(name=self.name, bounds=_tojson(bounds), options=_tojson(options)))

    def html(self) -> str:
        return f'\n    \n            <div class="folium-map" id={_tojson(self.name)} ></div>\n        '

    def script(self) -> str:
        return "".join("\n    " + piece for piece in self._pieces)


def region_map(boundary_geojson: str | None, centroid, bbox, context_geojson: str | None = None,
               label: str = "") -> PageMap | None:
    """A map of one region: its boundary, or its point inside its parent's outline."""
    if not boundary_geojson and not centroid:
        return None
    fmap = PageMap(location=centroid or (-2.5, 118.0), zoom_start=13)
    if context_geojson:
        fmap.add_geojson(context_geojson, CONTEXT_STYLE)
    if boundary_geojson:
        fmap.add_geojson(boundary_geojson, BOUNDARY_STYLE, label)
    if centroid and not boundary_geojson:
        fmap.add_circle(centroid, 7, "#0b6e4f", 0.8, label)
    if bbox:
        minlon, minlat, maxlon, maxlat = bbox
        fmap.fit_bounds([[minlat, minlon], [maxlat, maxlon]])
    return fmap


def kim_map(point, context_geojson: str | None, label: str) -> PageMap:
    """A KIM's pin inside the outline of its kecamatan."""
    fmap = PageMap(location=point, zoom_start=14)
    if context_geojson:
        fmap.add_geojson(context_geojson, CONTEXT_STYLE)
    fmap.add_circle(point, 8, "#0b6e4f", 0.9, label)
    return fmap


def points_map(points: list[tuple[float, float, str]]) -> PageMap | None:
    """A handful of labelled points (one page of a list), fitted to their extent."""
    if not points:
        return None
    fmap = PageMap(location=points[0][:2], zoom_start=12)
    for lat, lon, label in points:
        fmap.add_circle([lat, lon], 7, "#a05a00", 0.9, label)
    if len(points) > 1:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], max_zoom=14)
    return fmap


def embed(fmap: "LocalMap | PageMap") -> Markup:
    """The map's <div> and script, ready to place in a page that loads Leaflet itself."""
    if isinstance(fmap, PageMap):
        html, script = fmap.html(), fmap.script()
    else:
        root = fmap.get_root()
        root.render()
        html = root.html.render()
        script = root.script.render()
    # Our own or folium's output; the only user text in it (tooltips) is JSON-encoded.
    return Markup(f'{html}\n<script nonce="{csp_nonce()}">{script}</script>')  # nosec B704


def leaflet_assets() -> Markup:
    """<link> and <script> for the vendored Leaflet, for pages that show a map."""
    css = url_for("static", filename="vendor/leaflet/leaflet.css")
    js = url_for("static", filename="vendor/leaflet/leaflet.js")
    # Our own static URLs.
    return Markup(f'<link rel="stylesheet" href="{css}">\n<script src="{js}"></script>')  # nosec B704
