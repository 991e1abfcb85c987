/* On every page: install the service worker, keep the outbox badge in the menu up to date, and
   send what waits in the outbox when the app opens, when the connection returns and when the app
   comes back to the foreground (Background Sync, where the browser has it, is only a bonus). */
(function () {
  "use strict";
  var script = document.currentScript;
  var swUrl = script && script.getAttribute("data-sw");
  var user = script && script.getAttribute("data-user");
  var outbox = window.KimOutbox;
  var hasDb = !!(outbox && window.indexedDB);

  function updateBadge() {
    if (!hasDb) { return Promise.resolve(); }
    return outbox.pending().then(function (items) {
      var count = items.length;
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
    outbox.pending().then(function (items) {
      var waiting = items.some(function (i) { return i.state === "waiting" || i.state === "sending" || i.state === "auth"; });
      if (waiting) { return outbox.sync(); }
    }).catch(function () {});
  }

  /* Ask the service worker to keep this volunteer's pages and data for offline use. */
  function warm(registration) {
    var worker = registration.active;
    if (!worker || !window.MessageChannel) { return; }
    var pipe = new MessageChannel();
    pipe.port1.onmessage = function (event) {
      if (event.data && event.data.ok) { document.documentElement.setAttribute("data-offline-ready", event.data.version || "1"); }
    };
    worker.postMessage({ type: user ? "warm" : "forget", user: user || null }, [pipe.port2]);
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

  if (swUrl && "serviceWorker" in navigator) {
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
})();
