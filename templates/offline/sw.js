/* KIM Platform service worker ({{ version }}), rendered by kim_platform/core/offline.py.

   Workbox (vendored in static/vendor/workbox/, never a CDN) does the caching:
   - static files: cache first, at run time (their URLs come from url_for, content-hashed or not);
   - the outbox page, the "needs a connection" page, the manifest and the icon: precached;
   - "Lapor kegiatan" for each of the volunteer's KIMs, /api/v1/me/reporting and their recent
     reports: network first, the kept copy offline, refreshed by warm() below;
   - every other page: the network, or offline the "needs a connection" page.
   The outbox itself is IndexedDB (static/js/outbox.js), which an update of this worker never touches. */
importScripts({{ workbox|tojson }});
workbox.setConfig({
  debug: false,
  modulePathPrefix: {{ workbox_prefix|tojson }}{% if modules_hashed %},
  // The static URLs carry content hashes: load each module from the URL url_for gives.
  modulePathCb: function (name) { return {{ modules|tojson }}[name]; }{% endif %}
});
importScripts({% for url in scripts %}{{ url|tojson }}{% if not loop.last %}, {% endif %}{% endfor %});

var VERSION = {{ version|tojson }};
var OUTBOX_URL = {{ outbox_url|tojson }};
var OFFLINE_URL = {{ offline_url|tojson }};
var REPORTING_URL = {{ reporting_url|tojson }};
var STATIC_PREFIX = {{ static_prefix|tojson }};
var PAGES = "kim-pages";        // Lapor kegiatan, one per KIM
var REPORTS = "kim-reports";    // the volunteer's recent report pages
var DATA = "kim-data";          // /api/v1/me/reporting
var STATIC = "kim-static-" + VERSION;
var routing = workbox.routing;
var strategies = workbox.strategies;
var precaching = workbox.precaching;
var ExpirationPlugin = workbox.expiration.ExpirationPlugin;

workbox.core.setCacheNameDetails({ prefix: "kim" });
self.addEventListener("install", function () { self.skipWaiting(); });
workbox.core.clientsClaim();
precaching.precacheAndRoute({{ precache|tojson }}.map(function (url) { return { url: url, revision: VERSION }; }));
precaching.cleanupOutdatedCaches();

/* Keep only real pages: not a login page we were redirected to, not an error. */
var okOnly = { cacheWillUpdate: function (args) {
  var r = args.response;
  return Promise.resolve(r && r.status === 200 && !r.redirected ? r : null);
} };
/* "Lapor kegiatan?kotak=<uuid>" (fixing a report from the outbox) is the same page. */
var withoutQuery = { cacheKeyWillBeUsed: function (args) {
  var url = new URL(args.request.url);
  url.search = "";
  return Promise.resolve(url.href);
} };
var sameOrigin = function (url) { return url.origin === self.location.origin; };
var staticPattern = new RegExp('(?:src|href)="(' + STATIC_PREFIX.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&") + '[^"]+)"', "g");

routing.registerRoute(function (o) { return sameOrigin(o.url) && o.url.pathname.indexOf(STATIC_PREFIX) === 0; },
  new strategies.CacheFirst({ cacheName: STATIC, plugins: [okOnly,
    new ExpirationPlugin({ maxEntries: 200, maxAgeSeconds: 60 * 24 * 3600, purgeOnQuotaError: true })] }));
routing.registerRoute(function (o) { return sameOrigin(o.url) && /^\/kim\/[^/]+\/lapor$/.test(o.url.pathname); },
  new strategies.NetworkFirst({ cacheName: PAGES, networkTimeoutSeconds: 6, plugins: [okOnly, withoutQuery] }));
routing.registerRoute(function (o) { return sameOrigin(o.url) && /^\/kegiatan\/\d+$/.test(o.url.pathname); },
  new strategies.NetworkFirst({ cacheName: REPORTS, networkTimeoutSeconds: 6, plugins: [okOnly,
    new ExpirationPlugin({ maxEntries: 30, purgeOnQuotaError: true })] }));
routing.registerRoute(function (o) { return sameOrigin(o.url) && o.url.pathname === REPORTING_URL; },
  new strategies.NetworkFirst({ cacheName: DATA, networkTimeoutSeconds: 6, plugins: [okOnly] }));
// Every other page of this site: the network only (the API and other sites are not touched).
routing.registerRoute(function (o) { return sameOrigin(o.url) && o.url.pathname.indexOf("/api/") !== 0; },
  new strategies.NetworkOnly());
routing.setCatchHandler(function (o) {
  if (o.request.mode === "navigate" || o.request.destination === "document") {
    return precaching.matchPrecache(OFFLINE_URL).then(function (r) { return r || Response.error(); });
  }
  return Promise.resolve(Response.error());
});

/* An update starts with an empty asset cache: carry the old one over (fresh from the network
   where there is one), so the kept pages still have their styles and scripts offline. */
function carryOver() {
  return caches.keys().then(function (keys) {
    var old = keys.filter(function (k) { return k.indexOf("kim-static-") === 0 && k !== STATIC; });
    return caches.open(STATIC).then(function (fresh) {
      return old.reduce(function (chain, name) {
        return chain.then(function () { return caches.open(name); }).then(function (cache) {
          return cache.keys().then(function (requests) {
            return requests.reduce(function (c, request) {
              return c.then(function () { return fresh.match(request); }).then(function (have) {
                if (have) { return null; }
                return fetch(request, { cache: "no-cache" }).then(function (r) { return r.ok ? r : cache.match(request); },
                  function () { return cache.match(request); }).then(function (r) { return r && fresh.put(request, r); });
              });
            }, Promise.resolve());
          });
        }).then(function () { return caches.delete(name); });
      }, Promise.resolve());
    });
  });
}
self.addEventListener("activate", function (event) { event.waitUntil(carryOver().catch(function () {})); });

function forgetUserData() {
  lastWarm = { user: null, at: 0 };
  return Promise.all([caches.delete(PAGES), caches.delete(REPORTS), caches.delete(DATA)]);
}

/* Logged out (the server says 401, not merely "no signal"): drop the pages kept for that user. */
function forget() {
  return Promise.all([caches.has(PAGES), caches.has(REPORTS), caches.has(DATA)]).then(function (kept) {
    return kept.indexOf(true) >= 0 ? checkLoggedOut() : null;
  });
}

function checkLoggedOut() {
  return fetch("/api/v1/me", { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.status === 401 ? forgetUserData() : null; }, function () { return null; });
}

function put(cacheName, url, response) {
  return caches.open(cacheName).then(function (cache) { return cache.put(url, response); });
}

function fetchPage(url) {
  return fetch(url, { credentials: "same-origin", cache: "no-cache" }).then(function (r) {
    return r.status === 200 && !r.redirected ? r : null;
  }, function () { return null; });
}

/* Keep what the volunteer needs offline: their KIMs' report forms, the reporting data, their recent
   report pages, and the styles and scripts of all of them. At most every few minutes per user. */
var lastWarm = { user: null, at: 0 };
function warm(user) {
  if (lastWarm.user === user && Date.now() - lastWarm.at < 5 * 60 * 1000) { return Promise.resolve(true); }
  var html = [];
  return fetch(REPORTING_URL, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
    .then(function (response) {
      if (response.status === 401) { return forgetUserData().then(function () { return null; }); }
      if (!response.ok) { return null; }
      return response.clone().json().then(function (data) {
        return put(DATA, REPORTING_URL, response).then(function () { return data; });
      });
    }).then(function (data) {
      if (!data) { return false; }
      var pages = (data.kims || []).map(function (kim) { return [PAGES, kim.report_url]; })
        .concat((data.recent_reports || []).slice(0, 10).map(function (report) { return [REPORTS, report.url]; }));
      return pages.reduce(function (chain, page) {
        return chain.then(function () { return fetchPage(page[1]); }).then(function (r) {
          if (!r) { return null; }
          if (page[0] === PAGES) { return r.clone().text().then(function (t) { html.push(t); return put(page[0], page[1], r); }); }
          return put(page[0], page[1], r);
        });
      }, Promise.resolve()).then(function () {
        return Promise.all([OUTBOX_URL, OFFLINE_URL].map(function (url) {
          return precaching.matchPrecache(url).then(function (r) { return r ? r.text().then(function (t) { html.push(t); }) : null; });
        }));
      }).then(function () {
        var assets = {};
        html.forEach(function (text) {
          text.replace(staticPattern, function (m, url) { assets[url.replace(/&amp;/g, "&")] = true; return m; });
        });
        return caches.open(STATIC).then(function (cache) {
          return Object.keys(assets).reduce(function (chain, url) {
            return chain.then(function () { return cache.match(url); }).then(function (have) {
              if (have) { return null; }
              return fetch(url).then(function (r) { return r.ok ? cache.put(url, r) : null; }, function () { return null; });
            });
          }, Promise.resolve());
        });
      }).then(function () {
        lastWarm = { user: user, at: Date.now() };
        return true;
      });
    }).catch(function () { return false; });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  var port = event.ports && event.ports[0];
  var reply = function (ok) { if (port) { port.postMessage({ ok: ok, version: VERSION }); } };
  if (data.type === "warm") { event.waitUntil(warm(data.user).then(reply)); }
  else if (data.type === "forget") { event.waitUntil(forget().then(function () { reply(true); })); }
  else if (data.type === "sync") { event.waitUntil(self.KimOutbox.sync()); }
  else if (data.type === "version") { reply(true); }
});

/* Background Sync (Chromium): the browser wakes this worker when the signal returns. A drop
   rejects, so the browser tries again later; the pages send on their own triggers too. */
self.addEventListener("sync", function (event) {
  if (event.tag !== "kim-outbox") { return; }
  event.waitUntil(self.KimOutbox.sync().then(function (result) {
    if (result && result.dropped) { throw new Error("the connection dropped; try again later"); }
  }));
});
