/* KIM registration form: cascading region selects fed by the regions API, and a pin map
   kept in step with the latitude/longitude fields. Without JavaScript the page still works:
   the region chooser is a GET form and the coordinates are plain text fields. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var LEVELS = ["provinsi", "kabupaten", "kecamatan", "desa"];
  var chooser = document.querySelector(".region-chooser");
  var form = document.getElementById("kim-form");
  var latInput = document.getElementById("lat");
  var lonInput = document.getElementById("lon");
  var desaInput = document.getElementById("desa_code");
  var chosenLabel = document.getElementById("chosen-desa");
  var marker = null;
  var map = null;

  function parseNumber(value) {
    if (!value) { return NaN; }
    value = String(value).trim().replace(/\s/g, "");
    if (value.indexOf(",") !== -1 && value.indexOf(".") === -1) { value = value.replace(",", "."); }
    return parseFloat(value);
  }

  function setInputs(latlng) {
    latInput.value = latlng.lat.toFixed(6);
    lonInput.value = latlng.lng.toFixed(6);
  }

  function placePin(lat, lon, zoom) {
    if (!map || !isFinite(lat) || !isFinite(lon)) { return; }
    var latlng = L.latLng(lat, lon);
    if (!marker) {
      marker = L.marker(latlng, { draggable: true, autoPan: true }).addTo(map);
      marker.on("dragend", function () { setInputs(marker.getLatLng()); });
    } else {
      marker.setLatLng(latlng);
    }
    map.setView(latlng, zoom || Math.max(map.getZoom(), 15));
  }

  function initMap() {
    var element = document.getElementById("pin-map");
    if (!element || typeof L === "undefined") { return; }
    map = L.map(element, { scrollWheelZoom: false }).setView([-2.5, 118], 4);
    L.tileLayer(element.dataset.tiles, { maxZoom: 19, attribution: element.dataset.attribution }).addTo(map);
    map.on("click", function (event) {
      placePin(event.latlng.lat, event.latlng.lng, map.getZoom());
      setInputs(event.latlng);
    });
    var lat = parseNumber(latInput.value), lon = parseNumber(lonInput.value);
    if (isFinite(lat) && isFinite(lon)) { placePin(lat, lon, 15); }
    [latInput, lonInput].forEach(function (input) {
      input.addEventListener("change", function () {
        placePin(parseNumber(latInput.value), parseNumber(lonInput.value));
      });
    });
  }

  function fetchJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      });
  }

  function resetBelow(level) {
    LEVELS.slice(LEVELS.indexOf(level) + 1).forEach(function (lower) {
      var select = chooser.querySelector('select[data-level="' + lower + '"]');
      while (select.options.length > 1) { select.remove(1); }
      select.disabled = true;
    });
    desaInput.value = "";
    form.classList.add("is-waiting");
  }

  function onRegionChange(event) {
    var select = event.target;
    var level = select.dataset.level;
    var code = select.value;
    resetBelow(level);
    if (!code) { return; }
    if (level === "desa") {
      desaInput.value = code;
      form.classList.remove("is-waiting");
      chosenLabel.textContent = LEVELS.map(function (l) {
        var s = chooser.querySelector('select[data-level="' + l + '"]');
        return s.options[s.selectedIndex] ? s.options[s.selectedIndex].text : "";
      }).reverse().join(", ");
      fetchJSON("/api/v1/regions/" + encodeURIComponent(code)).then(function (region) {
        if (region.centroid) {
          placePin(region.centroid.lat, region.centroid.lon, 15);
          setInputs(L.latLng(region.centroid.lat, region.centroid.lon));
        }
      }).catch(function () { /* the pin can still be placed by hand */ });
      return;
    }
    var next = chooser.querySelector('select[data-level="' + LEVELS[LEVELS.indexOf(level) + 1] + '"]');
    var url = chooser.dataset.api.replace("CODE", encodeURIComponent(code)) + "?per_page=200";
    next.disabled = true;
    fetchJSON(url).then(function (page) {
      page.items.forEach(function (region) {
        var option = document.createElement("option");
        option.value = region.code;
        option.textContent = region.name;
        next.appendChild(option);
      });
      next.disabled = false;
      next.focus();
    }).catch(function () {
      chooser.submit();  // fall back to the server-side chooser
    });
  }

  if (chooser && form) {
    chooser.addEventListener("change", onRegionChange);
  }
  if (form && latInput && lonInput) {
    initMap();
  }
})();
