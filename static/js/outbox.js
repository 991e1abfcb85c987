/* The outbox and its sync engine, one script for the pages and the service worker (importScripts).

   Reports written on this device live in IndexedDB (database "kim-outbox", through idb) until the
   server has stored everything, photos included; only then are they marked sent. Sending follows
   the server's contract (README, "Offline reports"): a fresh CSRF token, POST the report with
   Idempotency-Key = its UUID and photo_count, then PUT each photo not yet acknowledged with its
   own key. Replays are harmless: the server answers the same report. One sync at a time
   (navigator.locks); every change is announced on the BroadcastChannel "kim-outbox".

   An entry is a report (kind "report", the default) or an aspiration (kind "aspiration", issue 18:
   POST /api/v1/aspirations, its evidence PUT to /api/v1/aspirations/<id>/photos/<n>). An
   aspiration's resident name and contact stay only here, on this device, until the server has
   stored the item; then they are removed from the entry.

   Each report belongs to the account that wrote it (user_id): a page shows, and a sync sends, only
   the logged-in account's reports; another account's stay stored, untouched, until it logs in
   again on this device. Logging out deletes nothing. Who is logged in: a page the server rendered
   for the person says so (data-user on app.js); a shell kept by the service worker asks
   /api/v1/me, and offline the account last seen on this device (meta "user").

   No interface text here: pages read their words from the server-rendered #outbox-strings. */
(function (root) {
  "use strict";
  var DB_NAME = "kim-outbox";
  var DB_VERSION = 2;
  var STORE = "reports";
  var API = "/api/v1";
  var LOCK = "kim-outbox-sync";
  var PENDING = ["waiting", "sending", "auth"];  // "invalid" waits for the volunteer's fix
  var KEEP_SENT = 20;  // sent reports stay listed (without their photos) for the volunteer to see
  var channel = root.BroadcastChannel ? new root.BroadcastChannel("kim-outbox") : null;
  var dbPromise = null;
  var retryTimer = null;
  var retryDelay = 2000;
  var running = null;

  /* Migrations, one per version, applied in order: a store is never deleted or recreated, so
     reports written under an older version of the app survive every update. */
  var MIGRATIONS = [
    function (db) {  // 1: the reports, keyed by their UUID (the Idempotency-Key)
      db.createObjectStore(STORE, { keyPath: "id" });
    },
    function (db, tx) {  // 2: list them by state; a small key-value store for the app
      tx.objectStore(STORE).createIndex("by_state", "state");
      db.createObjectStore("meta");
    }
  ];

  function open() {
    if (!dbPromise) {
      dbPromise = root.idb.openDB(DB_NAME, DB_VERSION, {
        upgrade: function (db, oldVersion, newVersion, tx) {
          for (var v = oldVersion; v < DB_VERSION; v++) { MIGRATIONS[v](db, tx); }
        },
        blocking: function () {  // a newer app wants to migrate: let it
          dbPromise.then(function (db) { db.close(); });
          dbPromise = null;
        },
        terminated: function () { dbPromise = null; }
      });
      dbPromise.catch(function () { dbPromise = null; });
    }
    return dbPromise;
  }

  function uuid() {
    if (root.crypto && root.crypto.randomUUID) { return root.crypto.randomUUID(); }
    var b = root.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  /* Device time with its UTC offset, e.g. 2026-12-01T19:31:05+08:00 (the server keeps it as written). */
  function deviceTime(date) {
    date = date || new Date();
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var off = -date.getTimezoneOffset();
    var sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  }

  function announce(message) {
    if (channel) { channel.postMessage(message); }
    if (root.dispatchEvent && root.CustomEvent) { root.dispatchEvent(new root.CustomEvent("kim-outbox", { detail: message })); }
  }

  function all() {
    return open().then(function (db) { return db.getAll(STORE); }).then(function (items) {
      return items.sort(function (a, b) { return a.created_at < b.created_at ? -1 : 1; });
    });
  }

  function get(id) { return open().then(function (db) { return db.get(STORE, id); }); }

  function save(item) {
    item.updated_at = new Date().toISOString();
    return open().then(function (db) { return db.put(STORE, item); }).then(function () {
      announce({ type: "changed", id: item.id, state: item.state, progress: item.progress || null });
      return item;
    });
  }

  function pending() {
    return all().then(function (items) {
      return items.filter(function (item) { return item.state !== "sent"; });
    });
  }

  function meta(key, value) {
    return open().then(function (db) {
      return value === undefined ? db.get("meta", key) : db.put("meta", value, key);
    });
  }

  function rememberUser(id) {
    id = id ? String(id) : null;
    return meta("user", id).then(function () { return id; }, function () { return id; });
  }

  /* Who the server rendered this page for: {known: true, id} on a live page, null on a shell or in the worker. */
  function pageUser() {
    var doc = root.document;
    var script = doc && doc.querySelector && doc.querySelector("script[data-sw]");
    if (!script || script.hasAttribute("data-shell") || !script.hasAttribute("data-user")) { return null; }
    return { known: true, id: script.getAttribute("data-user") || null };
  }

  /* The logged-in account's id (a string), or null when nobody is. */
  var userPromise = null;
  function whoami(fresh) {
    if (userPromise && !fresh) { return userPromise; }
    var hint = fresh ? null : pageUser();
    if (hint) {
      userPromise = rememberUser(hint.id);
    } else if (root.navigator && root.navigator.onLine === false) {
      userPromise = meta("user").then(function (id) { return id || null; }, function () { return null; });
    } else {
      userPromise = request(API + "/me").then(function (me) {
        if (me.status === 200 && me.body && me.body.id) { return rememberUser(me.body.id); }
        // 401: the session ended, nobody else logged in: still that account's device (its reports
        // show as "log in again"); only a page rendered for nobody (logged out) forgets it.
        return meta("user").then(function (id) { return id || null; });
      }, function () {
        return meta("user").then(function (id) { return id || null; }, function () { return null; });
      });
    }
    return userPromise;
  }

  /* A report of this account (one written before reports carried an account belongs to whoever sends it). */
  function belongsTo(item, user) {
    return !item.user_id || (!!user && String(item.user_id) === String(user));
  }

  /* The reports of the logged-in account, and how many other accounts' wait on this device. */
  function mine(items) {
    return whoami().then(function (user) {
      var own = items.filter(function (i) { return belongsTo(i, user); });
      var others = items.filter(function (i) { return !belongsTo(i, user) && i.state !== "sent"; }).length;
      return { user: user, items: own, others: others };
    });
  }

  /* A new report: fields as the form has them, photos as {blob, name} already shrunk. */
  function add(report) {
    var item = {
      id: uuid(),
      kind: report.kind || "report",
      user_id: report.user_id || null,
      kim_id: report.kim_id, kim_name: report.kim_name || "",
      post_url: report.post_url, form_url: report.form_url,
      fields: report.fields, action: report.action || "publish", label: report.label || "",
      photos: (report.photos || []).map(function (p) {
        return { id: uuid(), blob: p.blob, name: p.name || "foto.jpg", size: p.blob ? p.blob.size : 0, acked: false };
      }),
      written_at: deviceTime(),
      created_at: new Date().toISOString(),
      state: "waiting", errors: null, server: null, progress: null
    };
    return save(item);
  }

  /* The volunteer fixed a report the server refused. Nothing stored yet: same key, the fields and
     (if chosen) the photos replaced. The report stored, a photo refused: the server waits for as
     many photos as were announced, so the new photos take the places not yet stored, in order, and
     places left over keep their photos from the outbox; never fewer than announced (that report
     could never be complete, and the outbox would send it for ever). */
  function revise(id, report) {
    return get(id).then(function (item) {
      if (!item || item.state === "sent") { throw new Error("not in the outbox"); }
      if (!item.server) {
        item.fields = report.fields;
        item.action = report.action || item.action;
        item.label = report.label || "";
      }
      if (report.photos && report.photos.length) {
        var fresh = report.photos.map(function (p) {
          return { id: uuid(), blob: p.blob, name: p.name || "foto.jpg", size: p.blob.size, acked: false };
        });
        if (!item.server) {
          item.photos = fresh;
        } else {
          var places = Math.max(item.photos.length, item.server.photos_expected || 0);
          var photos = item.photos.slice();
          var refused = item.refused_photo;
          // First the photo the server refused, then the places the outbox has no photo for,
          // then the other photos not stored yet, in order.
          if (refused !== undefined && refused !== null && photos[refused] && !photos[refused].acked && fresh.length) {
            photos[refused] = fresh.shift();
          }
          while (photos.length < places && fresh.length) { photos.push(fresh.shift()); }
          photos = photos.map(function (p, index) {
            return p.acked || index === refused || !fresh.length ? p : fresh.shift();
          });
          item.photos = photos.slice(0, places);
          item.refused_photo = null;
        }
      }
      item.state = "waiting"; item.errors = null; item.message = null; item.progress = null; item.problem = null;
      return save(item);
    });
  }

  function prune() {
    return all().then(function (items) {
      var sent = items.filter(function (i) { return i.state === "sent"; });
      var extra = sent.slice(0, Math.max(0, sent.length - KEEP_SENT));
      return open().then(function (db) {
        return Promise.all(extra.map(function (i) { return db.delete(STORE, i.id); }));
      });
    });
  }

  /* ---- sending ---- */

  /* Not the entry's fault: no network, or the server asks to come back later (429, any 5xx: a 503
     when the platform's Redis or database is away). The entry stays queued; `retryAfter` (ms) is the
     server's Retry-After, the least wait before the next try. */
  function NetworkDown(retryAfter) { this.name = "NetworkDown"; this.retryAfter = retryAfter || 0; }

  function retryAfterMs(response) {
    var value = response.headers && response.headers.get("Retry-After");
    if (!value) { return 0; }
    var ms = /^\s*\d+\s*$/.test(value) ? parseInt(value, 10) * 1000 : Date.parse(value) - Date.now();
    return isFinite(ms) && ms > 0 ? Math.min(ms, 600000) : 0;
  }

  function request(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.cache = "no-store";
    options.headers = Object.assign({ "Accept": "application/json" }, options.headers || {});
    return root.fetch(url, options).then(function (response) {
      if (response.status === 429 || response.status >= 500) { throw new NetworkDown(retryAfterMs(response)); }
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        return { status: response.status, body: body, headers: response.headers };
      });
    }, function () { throw new NetworkDown(); });
  }

  function fieldErrors(body) {
    var error = (body && body.error) || {};
    var fields = {};
    Object.keys(error.fields || {}).forEach(function (key) {
      var value = error.fields[key];
      fields[key] = Array.isArray(value) ? value.join(" ") : (typeof value === "object" ? JSON.stringify(value) : String(value));
    });
    return { fields: fields, message: error.message || "" };
  }

  function refuse(item, response) {
    if (response.status === 401) { item.state = "auth"; item.progress = null; return save(item).then(function () { return "auth"; }); }
    var errors = fieldErrors(response.body);
    item.state = "invalid"; item.progress = null;
    item.errors = errors.fields; item.message = errors.message; item.status_code = response.status;
    item.problem = null;
    return save(item).then(function () { return "invalid"; });
  }

  function finish(item) {
    item.state = "sent"; item.progress = null; item.errors = null; item.message = null;
    item.sent_at = new Date().toISOString();
    item.photos.forEach(function (p) { p.blob = null; });  // the server has them now
    if (item.kind === "aspiration" && item.fields) {
      // What the residents said (their name, contact, words, the claim and its link): on the server
      // only, now; the sent list needs no more than the kind and the topic.
      item.fields = { kind: item.fields.kind, topic: item.fields.topic };
    }
    return save(item).then(prune).then(function () { return "sent"; });
  }

  function remember(item, answer) {
    var activity = answer.activity || answer.aspiration || answer;
    item.server = item.server || {};
    if (activity && activity.id) {
      item.server.id = activity.id;
      item.server.url = activity.url || item.server.url;
    }
    if ("photos_expected" in answer) { item.server.photos_expected = answer.photos_expected; }
    if ("photos_received" in answer) { item.server.photos_received = answer.photos_received; }
    if ("complete" in answer) { item.server.complete = !!answer.complete; }
  }

  function postReport(item, token) {
    var extra = { written_at: item.written_at, photo_count: item.photos.length };
    if (item.kind !== "aspiration") { extra.action = item.action; }
    var body = Object.assign({}, item.fields, extra);
    return request(item.post_url, {
      method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-CSRFToken": token.value, "Idempotency-Key": item.id }
    });
  }

  function putPhoto(item, index, token) {
    var photo = item.photos[index];
    var data = new root.FormData();
    data.append("photo", photo.blob, photo.name);
    var base = item.kind === "aspiration" ? "/aspirations/" : "/activities/";
    return request(API + base + item.server.id + "/photos/" + (index + 1), {
      method: "PUT", body: data, headers: { "X-CSRFToken": token.value, "Idempotency-Key": photo.id }
    });
  }

  /* A refused CSRF token (the server's error code "csrf_failed"): another request of this browser
     answered at the same time can leave the session holding another token than the one fetched. */
  function staleToken(r) {
    return r.status === 400 && !!(r.body && r.body.error && r.body.error.code === "csrf_failed");
  }

  /* Send once more with a fresh token when the first was refused as stale. */
  function withFreshTokenRetry(send, token) {
    return send().then(function (r) {
      if (!staleToken(r)) { return r; }
      return freshToken(token).then(function () { return send(); });
    });
  }

  function freshToken(token) {
    return request(API + "/me/csrf").then(function (r) {
      if (r.status === 200 && r.body) { token.value = r.body.csrf_token; }
      return r;
    });
  }

  /* Send one report as far as it goes: "sent", "invalid", "auth"; throws NetworkDown when the link drops. */
  function sendOne(item, token) {
    var total = item.photos.length;
    var step = Promise.resolve();
    if (!item.server || !item.server.id) {
      item.state = "sending"; item.progress = { n: 0, total: total };
      step = save(item).then(function () {
        return withFreshTokenRetry(function () { return postReport(item, token); }, token);
      }).then(function (r) {
        if (r.status !== 201 && r.status !== 200) { return refuse(item, r); }
        remember(item, r.body || {});
        return save(item);
      });
    }
    return step.then(function (outcome) {
      if (outcome === "auth" || outcome === "invalid") { return outcome; }
      if (item.server && item.server.photos_expected > item.photos.length) {
        // Fewer photos here than the server waits for: they can never all arrive. The volunteer
        // chooses the missing ones ("Perbaiki"); nothing is sent again until then.
        item.state = "invalid"; item.progress = null; item.errors = {};
        item.message = null; item.problem = "photos_missing";
        return save(item).then(function () { return "invalid"; });
      }
      var chain = Promise.resolve(null);
      item.photos.forEach(function (photo, index) {
        chain = chain.then(function (stop) {
          if (stop || photo.acked) { return stop; }
          item.state = "sending"; item.progress = { n: index + 1, total: total };
          return save(item).then(function () {
            return withFreshTokenRetry(function () { return putPhoto(item, index, token); }, token);
          }).then(function (r) {
            if (r.status !== 200 && r.status !== 201) { item.refused_photo = index; return refuse(item, r); }
            photo.acked = true;  // the blob stays until the whole report is acknowledged
            remember(item, r.body || {});
            return save(item).then(function () { return null; });
          });
        });
      });
      return chain;
    }).then(function (outcome) {
      if (outcome === "auth" || outcome === "invalid") { return outcome; }
      var done = item.photos.every(function (p) { return p.acked; });
      if (done && item.server && item.server.complete !== false) { return finish(item); }
      // The server counts fewer photos than were acknowledged: send them all again later (stored
      // ones answer 200 and are not stored twice), never claim "sent".
      item.photos.forEach(function (p) { p.acked = false; });
      item.state = "waiting"; item.progress = null;
      return save(item).then(function () { throw new NetworkDown(); });
    });
  }

  function markAll(items, state) {
    return Promise.all(items.map(function (item) {
      if (item.state === "invalid" || item.state === state) { return null; }
      item.state = state; item.progress = null;
      return save(item);
    }));
  }

  function scheduleRetry(atLeast) {
    if (retryTimer || !root.setTimeout) { return; }
    var delay = Math.max(retryDelay, atLeast || 0);
    announce({ type: "retry", delay: delay });
    retryTimer = root.setTimeout(function () { retryTimer = null; sync(); }, delay);
    retryDelay = Math.min(retryDelay * 2, 60000);
  }

  function runSync(seen) {
    seen = seen || {};
    return pending().then(function (items) {
      items = items.filter(function (i) { return PENDING.indexOf(i.state) >= 0 && !seen[i.id]; });
      items.forEach(function (i) { seen[i.id] = true; });
      if (!items.length) { return { sent: 0, left: 0 }; }
      if (root.navigator && root.navigator.onLine === false) {
        return markAll(items, "waiting").then(function () { return { sent: 0, left: items.length, offline: true }; });
      }
      var token = { value: null };
      var sent = 0;
      return request(API + "/me").then(function (me) {
        if (me.status === 401) {
          return markAll(items, "auth").then(function () { return { sent: 0, left: items.length }; });
        }
        if (me.status !== 200 || !me.body) { throw new NetworkDown(); }
        userPromise = rememberUser(me.body.id);
        // Another account's reports stay as they are, kept for when it logs in again.
        items = items.filter(function (i) { return belongsTo(i, me.body.id); });
        return freshToken(token).then(function (r) {
          if (r.status !== 200) { throw new NetworkDown(); }
          var chain = Promise.resolve();
          items.forEach(function (item) {
            chain = chain.then(function () {
              item.other_account = false;
              return sendOne(item, token).then(function (outcome) { if (outcome === "sent") { sent += 1; } });
            });
          });
          return chain.then(function () {
            retryDelay = 2000;
            // Reports saved while this run was busy are sent by it too, not left for the next trigger.
            return runSync(seen).then(function (more) { return { sent: sent + (more.sent || 0) }; });
          });
        });
      });
    }).catch(function (error) {
      if (!(error instanceof NetworkDown)) { throw error; }
      return pending().then(function (items) {
        return markAll(items.filter(function (i) { return i.state === "sending"; }), "waiting");
      }).then(function () {
        scheduleRetry(error.retryAfter);
        return { sent: 0, dropped: true };
      });
    });
  }

  /* Send whatever waits. Concurrent calls in one page share one run; a call while another context
     (a tab, the service worker) holds the lock waits for it and then looks again, since that run
     may have read the outbox before this call's reason to send (a login, a saved report) existed. */
  function sync() {
    if (running) { return running; }
    var locks = root.navigator && root.navigator.locks;
    var run = locks ? locks.request(LOCK, function () { return runSync(); }) : runSync();
    running = Promise.resolve(run).then(function (result) {
      running = null;
      announce({ type: "synced", result: result });
      return result;
    }, function (error) {
      running = null;
      announce({ type: "synced", error: String(error) });
      throw error;
    });
    return running;
  }

  root.KimOutbox = {
    DB_NAME: DB_NAME, DB_VERSION: DB_VERSION,
    open: open, all: all, get: get, pending: pending, add: add, revise: revise, sync: sync,
    meta: meta, deviceTime: deviceTime, uuid: uuid, whoami: whoami, mine: mine, belongsTo: belongsTo,
    channel: function () { return root.BroadcastChannel ? new root.BroadcastChannel("kim-outbox") : null; }
  };
})(typeof self !== "undefined" ? self : this);
