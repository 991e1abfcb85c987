/* On every page: install the service worker, keep the outbox badge in the menu up to date, and
   send what waits in the outbox when the app opens, when the connection returns and when the app
   comes back to the foreground (Background Sync, where the browser has it, is only a bonus).

   The worker is for members: it is registered only when someone is logged in (or on a page the
   worker itself served), and only once the page has loaded and the browser is idle, so that its
   install never competes with the page's first paint; on a map page (data-install="later", or any
   page that loads Leaflet) not at all until it is installed: it installs on the volunteer's next page without a map. The badge counts the logged-in account's
   reports only (static/js/outbox.js, "Each report belongs to the account that wrote it"). */
(function () {
  "use strict";
  var script = document.currentScript;
  var swUrl = script && script.getAttribute("data-sw");
  var shell = !!(script && script.hasAttribute("data-shell"));
  var liveUser = script && script.getAttribute("data-user");
  // A map page (data-install="later") brings Leaflet and tiles already: not the install on top.
  var installLater = !!(script && script.getAttribute("data-install") === "later") ||
    !!document.querySelector('script[src*="/vendor/leaflet/"]');
  var outbox = window.KimOutbox;
  var hasDb = !!(outbox && window.indexedDB);

  function updateBadge() {
    if (!hasDb) { return Promise.resolve(); }
    return outbox.pending().then(outbox.mine).then(function (mine) {
      var count = mine.items.length;
      var badge = document.querySelector("[data-outbox-count]");
      var link = document.querySelector("[data-outbox-link]");
      if (badge) { badge.textContent = String(count); badge.hidden = count === 0; }
      if (link && count > 0) { link.hidden = false; }
      // Reports waiting: the outbox comes first in the menu, visible without scrolling it on a phone.
      if (link) { link.classList.toggle("has-waiting", count > 0); }
      document.documentElement.setAttribute("data-outbox-waiting", String(count));
    }).catch(function () {});
  }

  function syncIfWaiting() {
    if (!hasDb || navigator.onLine === false) { return; }
    outbox.pending().then(outbox.mine).then(function (mine) {
      var waiting = mine.items.some(function (i) { return i.state === "waiting" || i.state === "sending" || i.state === "auth"; });
      if (waiting) { return outbox.sync(); }
    }).catch(function () {});
  }

  /* Ask the service worker to keep this volunteer's pages and data for offline use (or, logged
     out, to drop them: never the outbox). */
  function warm(registration) {
    var worker = registration.active;
    if (!worker || !window.MessageChannel) { return; }
    var ask = hasDb ? outbox.whoami() : Promise.resolve(liveUser || null);
    ask.then(function (user) {
      var pipe = new MessageChannel();
      pipe.port1.onmessage = function (event) {
        if (event.data && event.data.ok) { document.documentElement.setAttribute("data-offline-ready", event.data.version || "1"); }
      };
      worker.postMessage({ type: user ? "warm" : "forget", user: user || null }, [pipe.port2]);
    }).catch(function () {});
  }

  if (hasDb) {
    var channel = outbox.channel();
    if (channel) { channel.onmessage = updateBadge; }
    updateBadge();
    syncIfWaiting();
    window.addEventListener("online", syncIfWaiting);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { updateBadge(); syncIfWaiting(); }
    });
  }

  function register() {
    navigator.serviceWorker.register(swUrl, { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      if (navigator.onLine !== false) { warm(registration); }
      // A new worker took over (an update): it keeps the outbox; let it cache this user's pages too.
      navigator.serviceWorker.addEventListener("controllerchange", function () {
        navigator.serviceWorker.ready.then(warm);
      });
    }).catch(function () {});
  }

  function whenIdle(run) {
    var later = function () {
      if (window.requestIdleCallback) { window.requestIdleCallback(run, { timeout: 3000 }); }
      else { window.setTimeout(run, 200); }
    };
    if (document.readyState === "complete") { later(); } else { window.addEventListener("load", later); }
  }

  if (swUrl && "serviceWorker" in navigator) {
    if (navigator.serviceWorker.controller || (!installLater && (liveUser || shell))) {
      // Logged out with the app installed: still registered (its outbox waits for the next login).
      whenIdle(register);
    }
  }
})();
