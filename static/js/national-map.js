/* The national map: KIMs and coverage drawn from our vector tiles (Leaflet.VectorGrid).
   folium builds the map shell; this file adds the layers, popups, filters and search.
   VectorGrid 1.3 cannot deliver clicks on its features with Leaflet 1.8+ (upstream issues
   #274, #294), so both layers are drawn without interaction and a click on the map asks
   the API: the KIM under the finger (a bbox of ±10 px) or else the region there. */
(function () {
  "use strict";
  var tools = document.getElementById("map-tools");
  if (!tools || typeof L === "undefined" || !L.vectorGrid) { return; }
  var map = window[tools.dataset.map];
  if (!map) { return; }
  var d = tools.dataset;
  var INACTIVE_COLOR = "#9ca3af";
  var BIDANG_COLORS = {
    "ekonomi-kreatif": "#d97706", "umkm": "#d97706", "sosial-budaya": "#7c3aed", "pariwisata": "#7c3aed",
    "kesehatan": "#7c3aed", "lingkungan": "#7c3aed", "literasi": "#0369a1", "edukasi": "#0369a1",
    "media": "#0369a1", "publikasi": "#0369a1", "teknologi-informasi": "#0369a1",
    "pertanian-perikanan": "#15803d", "keagamaan": "#be123c", "kepemudaan": "#0f766e"
  };
  var COVERAGE = ["#f1f1f1", "#fde2c4", "#f9b27a", "#e0703a", "#9c3b12"];
  var statusLine = document.getElementById("map-status") || document.createElement("p");
  // Distinct KIM features drawn since the layer was (re)built; tests and the status line read it.
  var drawn = {};

  function coverageColor(pct) {
    if (!pct) { return COVERAGE[0]; }
    if (pct < 5) { return COVERAGE[1]; }
    if (pct < 20) { return COVERAGE[2]; }
    if (pct < 50) { return COVERAGE[3]; }
    return COVERAGE[4];
  }

  function escapeHtml(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var regionLayer = L.vectorGrid.protobuf(d.regionTiles, {
    rendererFactory: L.svg.tile, interactive: false, maxNativeZoom: 16,
    vectorTileLayerStyles: {
      regions: function (p) {
        return { fill: true, fillColor: coverageColor(p.coverage_pct), fillOpacity: 0.6, color: "#6b7280", weight: 0.6 };
      }
    }
  }).addTo(map);
  // Figures in the page's language: 49.509 in Indonesian, 49,509 in English.
  var figures = new Intl.NumberFormat(document.documentElement.lang || "id");
  function figure(n) { return typeof n === "number" ? figures.format(n) : escapeHtml(String(n)); }
  function showRegion(p, latlng) {
    L.popup().setLatLng(latlng).setContent(
      "<strong>" + escapeHtml(p.name) + "</strong><br>" + figure(p.desa_covered) + " / " + figure(p.desa_total) + " " +
      escapeHtml(d.labelCoverage) + " (" + figure(p.coverage_pct || 0) + "%)<br>" + figure(p.kim_verified) + " " +
      escapeHtml(d.labelKims) + "<br><a href=\"" + d.regionPage + encodeURIComponent(p.code) + "\">" +
      escapeHtml(d.labelOpen) + "</a>").openOn(map);
  }

  function showKim(kim, latlng) {
    var place = (kim.region_path || []).map(function (r) { return r.name; }).slice(0, 2).join(", ");
    L.popup({ className: "kim-popup" }).setLatLng(latlng).setContent(
      "<strong>" + escapeHtml(kim.name) + "</strong>" +
      (kim.status === "inactive" ? " (" + escapeHtml(d.labelInactive) + ")" : "") + "<br>" + escapeHtml(place) + "<br>" +
      escapeHtml((kim.bidang || []).join(", ")) + "<br>" + escapeHtml(d.labelLast) + ": " +
      escapeHtml(kim.last_activity_on || d.labelNone) +
      "<br><a href=\"" + kim.url + "\">" + escapeHtml(d.labelOpen) + "</a>").openOn(map);
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  function regionAt(latlng) {
    getJSON(d.regionAt + "?lat=" + latlng.lat.toFixed(6) + "&lon=" + latlng.lng.toFixed(6) + "&zoom=" +
            Math.round(map.getZoom())).then(function (p) { showRegion(p, latlng); }).catch(function () { /* the sea */ });
  }

  // Lets tests (and the status line) know when a fly-to has settled.
  map.on("movestart", function () { tools.dataset.moving = "1"; });
  map.on("moveend", function () { tools.dataset.moving = "0"; });

  map.on("click", function (e) {
    if (map.getZoom() < Number(d.pointsFrom)) { regionAt(e.latlng); return; }
    var point = map.latLngToContainerPoint(e.latlng);
    var sw = map.containerPointToLatLng([point.x - 10, point.y + 10]);
    var ne = map.containerPointToLatLng([point.x + 10, point.y - 10]);
    var bbox = [sw.lng, sw.lat, ne.lng, ne.lat].map(function (v) { return v.toFixed(6); }).join(",");
    // The list leaves inactive KIMs out unless asked; the map draws them (grey), so it asks.
    var chosen = control("filter-status");
    var lookup = filterQuery("&", true) + (chosen && chosen.value ? "" : "&include_inactive=true");
    getJSON(d.kimsApi + "?per_page=1&bbox=" + bbox + lookup).then(function (page) {
      if (page.items && page.items.length) { showKim(page.items[0], e.latlng); } else { regionAt(e.latlng); }
    }).catch(function () { regionAt(e.latlng); });
  });

  var kimLayer = null;
  // Region pages and KIM profiles embed the same layers without the filter and search controls.
  function control(id) { return document.getElementById(id); }

  // The KIM list API takes the same filters, except a tiles-only health choice ("not assessed yet").
  function filterQuery(prefix, forList) {
    var params = [];
    var bidang = control("filter-bidang");
    var status = control("filter-status");
    var health = control("filter-health");
    if (bidang && bidang.value) { params.push("bidang=" + encodeURIComponent(bidang.value)); }
    if (status && status.value) { params.push("status=" + encodeURIComponent(status.value)); }
    if (health && health.value && !(forList && health.selectedOptions[0].hasAttribute("data-tiles-only"))) {
      params.push("health=" + encodeURIComponent(health.value));
    }
    return params.length ? prefix + params.join("&") : "";
  }

  function kimUrl() {
    var query = filterQuery("?");
    var active = control("filter-active");
    if (active && active.checked) { query += (query ? "&" : "?") + "active=1"; }
    return d.kimTiles + query;
  }

  function kimStyle(p, zoom) {
    if (p.count !== undefined) {  // an aggregate: a circle sized by the number of KIMs
      var radius = Math.min(14, 3 + Math.sqrt(p.count) * 0.8);
      return { radius: radius, fill: true, fillColor: "#0b6e4f", fillOpacity: 0.8, color: "#ffffff", weight: 1.5 };
    }
    if (p.status === "inactive") {  // an inactive KIM: public profile, drawn grey, never "active"
      return { radius: zoom >= 14 ? 7 : 5, fill: true, fillColor: INACTIVE_COLOR, fillOpacity: 0.6,
               color: "#6b7280", weight: 1 };
    }
    var color = BIDANG_COLORS[p.bidang] || "#374151";
    return { radius: zoom >= 14 ? 8 : 6, fill: true, fillColor: color, fillOpacity: p.active ? 0.95 : 0.35,
             color: p.active ? "#111827" : color, weight: p.active ? 1.5 : 1 };
  }

  function addKimLayer() {
    if (kimLayer) { map.removeLayer(kimLayer); }
    drawn = {};
    tools.dataset.rendered = "0";
    tools.dataset.points = "0";
    kimLayer = L.vectorGrid.protobuf(kimUrl(), {
      rendererFactory: L.svg.tile, interactive: false, maxNativeZoom: 16,
      vectorTileLayerStyles: {
        kims: function (p, zoom) {
          drawn[p.id !== undefined ? "k" + p.id : "r" + p.code] = p.count || 1;
          tools.dataset.rendered = String(Object.keys(drawn).length);
          tools.dataset.points = String(Object.keys(drawn).filter(function (k) { return k[0] === "k"; }).length);
          return kimStyle(p, zoom);
        }
      }
    }).addTo(map);
  }
  addKimLayer();
  ["filter-bidang", "filter-status", "filter-health", "filter-active"].forEach(function (id) {
    var element = document.getElementById(id);
    if (element) { element.addEventListener("change", addKimLayer); }
  });

  if (control("locate")) {
    control("locate").addEventListener("click", function () {
      statusLine.textContent = d.labelLocating;
      map.locate({ setView: true, maxZoom: 13 });
    });
    map.on("locationfound", function () { statusLine.textContent = ""; });
    map.on("locationerror", function (e) { statusLine.textContent = e.message; });
  }

  var results = control("map-results");
  if (!results) { return; }
  control("map-search").addEventListener("submit", function (event) {
    event.preventDefault();
    var q = document.getElementById("map-q").value.trim();
    if (!q) { return; }
    var get = function (url) {
      return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (r) { return r.json(); });
    };
    Promise.all([get(d.regionApi + "?per_page=5&q=" + encodeURIComponent(q)),
                 get(d.kimsApi + "?per_page=5&q=" + encodeURIComponent(q))]).then(function (answers) {
      results.innerHTML = "";
      var items = answers[0].items.map(function (r) { return { label: r.path, region: r.code }; })
        .concat(answers[1].items.map(function (k) { return { label: k.name, lat: k.lat, lon: k.lon }; }));
      if (!items.length) { results.innerHTML = "<li>" + escapeHtml(d.labelNoresult) + "</li>"; }
      items.forEach(function (item) {
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "link-button";
        button.textContent = item.label;
        button.addEventListener("click", function () {
          results.hidden = true;
          if (item.region) {
            get(d.regionApi + "/" + encodeURIComponent(item.region)).then(function (r) {
              if (r.bbox) { map.flyToBounds([[r.bbox[1], r.bbox[0]], [r.bbox[3], r.bbox[2]]]); }
              else if (r.centroid) { map.flyTo([r.centroid.lat, r.centroid.lon], 14); }
            });
          } else {
            map.flyTo([item.lat, item.lon], 15);
          }
        });
        li.appendChild(button);
        results.appendChild(li);
      });
      results.hidden = false;
    });
  });
})();
