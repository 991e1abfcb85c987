/* KIM Platform service worker ({{ version }}), rendered by kim_platform/core/offline.py.

   Workbox (vendored in static/vendor/workbox/, never a CDN) does the caching:
   - static files: cache first, at run time (their URLs come from url_for, content-hashed or not);
   - precached: the outbox and "needs a connection" shells (rendered with ?shell=1: no user, no
     flash messages), nothing else, so that installing the app stays light;
   - "Lapor kegiatan" and the aspiration form for each of the volunteer's KIMs (`offline_pages`)
     and /api/v1/me/reporting: network first,
     offline the copy warm() keeps. Only shells are kept (the server marks them {{ shell_header }}):
     a page the person opened carries their session and its flash messages, and is never stored;
   - every other page: the network, or offline the outbox shell (for the outbox) or the "needs a
     connection" page.
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
var OUTBOX_SHELL = OUTBOX_URL + "?shell=1";
var OFFLINE_SHELL = OFFLINE_URL + "?shell=1";
var SHELL_HEADER = {{ shell_header|tojson }};
var SHELL_REQUEST_HEADER = {{ shell_request_header|tojson }};
var REPORTING_URL = {{ reporting_url|tojson }};
var STATIC_PREFIX = {{ static_prefix|tojson }};
var PAGES = "kim-pages";        // Lapor kegiatan, one per KIM
var REPORTS = "kim-reports";    // recent report pages (earlier versions): only ever deleted
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
/* A page the person opened is theirs (menu, flash messages): never kept; warm() keeps shells. */
var keepNothing = { cacheWillUpdate: function () { return Promise.resolve(null); } };
function isShell(r) { return !!(r && r.status === 200 && !r.redirected && r.headers.get(SHELL_HEADER) === "1"); }
/* "Lapor kegiatan?kotak=<uuid>" (fixing a report from the outbox) is the same page. */
var withoutQuery = { cacheKeyWillBeUsed: function (args) {
  var url = new URL(args.request.url);
  url.search = "";
  return Promise.resolve(url.href);
} };
var sameOrigin = function (url) { return url.origin === self.location.origin; };
// The styles, scripts and icons of the kept pages (the app icon: the browser asks for it on every
// page, offline too); not their other images, not needed to report.
var staticPattern = new RegExp('(?:src|href)="(' + STATIC_PREFIX.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&") + '(?:[^"]+\\.(?:js|css|svg)|icons/[^"]+\\.png))"', "g");

/* Static files this worker keeps (their URLs, read when it starts and updated as it stores more).
   Online, any other static file is left to the browser and its HTTP cache (immutable names): the
   worker fetching it again would move it over the wire a second time. */
var keptStatic = {};
function readKept() {
  return caches.open(STATIC).then(function (cache) { return cache.keys(); }).then(function (requests) {
    requests.forEach(function (r) { keptStatic[r.url] = true; });
  }).catch(function () {});
}
readKept();
var noteKept = { cacheDidUpdate: function (args) { keptStatic[args.request.url] = true; return Promise.resolve(); } };
routing.registerRoute(function (o) {
  return sameOrigin(o.url) && o.url.pathname.indexOf(STATIC_PREFIX) === 0 &&
    (keptStatic[o.url.href] || self.navigator.onLine === false);
}, new strategies.CacheFirst({ cacheName: STATIC, plugins: [okOnly, noteKept,
    new ExpirationPlugin({ maxEntries: 200, maxAgeSeconds: 60 * 24 * 3600, purgeOnQuotaError: true })] }));
// Lapor kegiatan and the aspiration form (issue 18) of each KIM: the kept shells, offline.
routing.registerRoute(function (o) { return sameOrigin(o.url) && /^\/kim\/[^/]+\/(?:lapor|aspirasi\/baru)$/.test(o.url.pathname); },
  new strategies.NetworkFirst({ cacheName: PAGES, networkTimeoutSeconds: 6, plugins: [keepNothing, withoutQuery] }));
routing.registerRoute(function (o) { return sameOrigin(o.url) && o.url.pathname === REPORTING_URL; },
  new strategies.NetworkFirst({ cacheName: DATA, networkTimeoutSeconds: 6, plugins: [okOnly] }));
// Every other page of this site: the network only, offline the shell below. Only pages: images,
// tiles and the API go to the network without passing through this worker.
routing.registerRoute(function (o) { return sameOrigin(o.url) && o.request.mode === "navigate" && o.url.pathname.indexOf("/api/") !== 0; },
  new strategies.NetworkOnly());
routing.setCatchHandler(function (o) {
  if (o.request.mode === "navigate" || o.request.destination === "document") {
    var shell = o.url && o.url.pathname === OUTBOX_URL ? OUTBOX_SHELL : OFFLINE_SHELL;
    return precaching.matchPrecache(shell).then(function (r) { return r || Response.error(); });
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
self.addEventListener("activate", function (event) { event.waitUntil(carryOver().catch(function () {}).then(readKept)); });

function forgetUserData() {
  lastWarm = { user: null, at: 0 };
  self.KimOutbox.meta("warmed", lastWarm).catch(function () {});
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

/* The shell of a page (no flash message taken, no user in it), or null. */
function fetchShell(url) {
  var headers = {};
  headers[SHELL_REQUEST_HEADER] = "1";
  return fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers }).then(function (r) {
    return isShell(r) ? r : null;
  }, function () { return null; });
}

/* Keep what the volunteer needs offline: their KIMs' report forms (shells), the reporting data, and
   the styles and scripts of them and of the outbox. At most every few minutes per user. Their recent
   reports are listed offline from the reporting data; report pages are not fetched (each would
   bring its map, Leaflet included, to every first visit). */
var lastWarm = { user: null, at: 0 };
var warming = null;  // one warm() at a time: the page asks on load and again when this worker takes over
var WARM_EVERY = 5 * 60 * 1000;
function warm(user) {
  if (warming && warming.user === user) { return warming.promise; }
  // The browser stops an idle worker: when it was last done is kept in IndexedDB, not only here.
  var promise = self.KimOutbox.meta("warmed").catch(function () { return null; }).then(function (kept) {
    var last = lastWarm.at ? lastWarm : (kept || lastWarm);
    if (last.user === user && last.version === VERSION && Date.now() - last.at < WARM_EVERY) { return true; }
    return warmNow(user);
  }).then(function (ok) { warming = null; return ok; }, function () { warming = null; return false; });
  warming = { user: user, promise: promise };
  return promise;
}
function warmNow(user) {
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
      var pages = [];
      (data.kims || []).forEach(function (kim) { pages.push.apply(pages, [kim.report_url].concat(kim.offline_pages || [])); });
      return caches.delete(REPORTS).then(function () {
        return pages.reduce(function (chain, url) {
          return chain.then(function () { return fetchShell(url); }).then(function (r) {
            if (!r) { return null; }
            return r.clone().text().then(function (t) { html.push(t); return put(PAGES, url, r); });
          });
        }, Promise.resolve());
      }).then(function () {
        return Promise.all([OUTBOX_SHELL, OFFLINE_SHELL].map(function (url) {
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
              return fetch(url).then(function (r) {
                return r.ok ? cache.put(url, r).then(function () { keptStatic[new URL(url, self.location.href).href] = true; }) : null;
              }, function () { return null; });
            });
          }, Promise.resolve());
        });
      }).then(readKept).then(function () {
        lastWarm = { user: user, at: Date.now(), version: VERSION };
        return self.KimOutbox.meta("warmed", lastWarm).then(function () { return true; }, function () { return true; });
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
