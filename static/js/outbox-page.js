/* Kotak keluar: lists the reports in this browser's outbox with their honest state, sends them
   (static/js/outbox.js), asks the browser to keep the outbox (navigator.storage.persist) and
   says what happens if it refuses. Words come from the server-rendered #outbox-strings.
   Only the logged-in account's reports are listed; another account's are only counted. */
(function () {
  "use strict";
  var root = document.getElementById("outbox");
  var outbox = window.KimOutbox;
  if (!root || !outbox || !window.indexedDB) { return; }
  var strings = JSON.parse(document.getElementById("outbox-strings").textContent);
  var pendingList = document.getElementById("outbox-pending");
  var sentList = document.getElementById("outbox-sent");
  var empty = document.getElementById("outbox-empty");
  var sendButton = document.getElementById("outbox-send");
  var network = document.getElementById("outbox-network");
  var progress = {};  // live "foto n dari N" from the sync engine, by report id

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function when(iso) {
    try { return new Date(iso).toLocaleString(document.documentElement.lang || "id"); } catch (e) { return iso; }
  }

  function stateText(item) {
    var p = progress[item.id] || item.progress;
    if (item.state === "sending" && p && p.n > 0) { return fill(strings.states.sending_photo, { n: p.n, total: p.total }); }
    return strings.states[item.state] || item.state;
  }

  /* What an entry is called in the list: a report by its title, an aspiration by its kind and words. */
  function titleOf(item) {
    var fields = item.fields || {};
    if (item.kind === "aspiration") {
      // Waiting: its description, to tell entries apart; sent: the description has left the phone,
      // a neutral title (the kind and topic chosen) remains.
      var words = String(fields.description || "").replace(/\s+/g, " ").trim() || item.label || "";
      return (strings.kinds && strings.kinds.aspiration || "") + (words ? ": " + (words.length > 60 ? words.slice(0, 59) + "…" : words) : "");
    }
    return fields.title ? fields.title : strings.untitled;
  }

  function fieldName(item, name) {
    var names = item.kind === "aspiration" ? (strings.aspiration_fields || {}) : strings.fields;
    return names[name] || name;
  }

  function render(mine) {
    var items = mine.items;
    var others = document.getElementById("outbox-others");
    if (others) {
      others.textContent = fill(strings.others_waiting, { n: mine.others });
      others.hidden = mine.others === 0;
    }
    var waiting = items.filter(function (i) { return i.state !== "sent"; });
    var sent = items.filter(function (i) { return i.state === "sent"; }).reverse();
    pendingList.textContent = "";
    sentList.textContent = "";
    waiting.forEach(function (item) {
      var li = el("li", { "class": "outbox-item", "data-state": item.state, "data-id": item.id, "data-kind": item.kind || "report" });
      var head = el("p", { "class": "outbox-title" });
      head.appendChild(el("strong", {}, titleOf(item)));
      head.appendChild(document.createTextNode(" "));
      head.appendChild(el("span", { "class": "badge outbox-state" + (item.state === "invalid" || item.state === "auth" ? " badge-warn" : " badge-muted") }, stateText(item)));
      li.appendChild(head);
      var facts = [item.kim_name, item.fields && item.fields.date, fill(strings.photos, { n: item.photos.length }),
                   fill(strings.written, { time: when(item.written_at) })].filter(Boolean);
      li.appendChild(el("p", { "class": "outbox-facts" }, facts.join(" · ")));
      if (item.state === "invalid") {
        var errors = el("ul", { "class": "outbox-errors" });
        Object.keys(item.errors || {}).forEach(function (name) {
          errors.appendChild(el("li", { "class": "error", "data-field": name },
                                fieldName(item, name) + ": " + item.errors[name]));
        });
        if (item.problem && strings.problems && strings.problems[item.problem]) {
          errors.appendChild(el("li", { "class": "error", "data-problem": item.problem }, strings.problems[item.problem]));
        }
        if (!errors.children.length && item.message) { errors.appendChild(el("li", { "class": "error" }, item.message)); }
        li.appendChild(errors);
        li.appendChild(el("a", { "class": "button outbox-fix", href: item.form_url + "?kotak=" + encodeURIComponent(item.id) }, strings.fix));
      }
      if (item.state === "auth") {
        if (item.other_account) { li.appendChild(el("p", { "class": "hint" }, strings.other_account)); }
        li.appendChild(el("a", { "class": "button outbox-login", href: root.getAttribute("data-login-url") }, strings.login));
      }
      pendingList.appendChild(li);
    });
    sent.forEach(function (item) {
      var li = el("li", { "class": "outbox-item", "data-state": "sent", "data-id": item.id, "data-kind": item.kind || "report" });
      var head = el("p", { "class": "outbox-title" });
      head.appendChild(el("strong", {}, titleOf(item)));
      head.appendChild(document.createTextNode(" "));
      head.appendChild(el("span", { "class": "badge outbox-state" }, strings.states.sent));
      li.appendChild(head);
      li.appendChild(el("p", { "class": "outbox-facts" }, [item.kim_name, fill(strings.photos, { n: item.photos.length }),
        fill(strings.sent_at, { time: when(item.sent_at) })].filter(Boolean).join(" · ")));
      if (item.server && item.server.url) {
        li.appendChild(el("a", { href: item.server.url, "class": "outbox-view" }, item.kind === "aspiration" ? strings.view_aspiration : strings.view));
      }
      sentList.appendChild(li);
    });
    empty.hidden = waiting.length > 0;
    document.getElementById("outbox-sent-section").hidden = sent.length === 0;
    sendButton.hidden = !waiting.some(function (i) { return i.state !== "invalid"; });
    if (navigator.onLine === false && waiting.length) { network.textContent = strings.offline; }
    else if (!waiting.length || navigator.onLine !== false && network.textContent === strings.offline) { network.textContent = ""; }
    root.setAttribute("data-pending", String(waiting.length));
    root.setAttribute("data-sent", String(sent.length));
  }

  function refresh() { return outbox.all().then(outbox.mine).then(render); }

  /* The volunteer's KIMs and recent reports, from the network or (offline) the service worker's copy. */
  function showReporting() {
    var url = root.getAttribute("data-reporting-url") || "/api/v1/me/reporting";
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (data) {
      if (!data) { return; }
      var kims = document.getElementById("outbox-kim-links");
      kims.textContent = "";
      (data.kims || []).forEach(function (kim) {
        var li = el("li");
        li.appendChild(el("a", { href: kim.report_url }, fill(strings.report_for, { name: kim.name })));
        kims.appendChild(li);
      });
      document.getElementById("outbox-kims").hidden = !(data.kims || []).length;
      var recent = document.getElementById("outbox-recent-list");
      recent.textContent = "";
      (data.recent_reports || []).forEach(function (report) {
        var li = el("li");
        li.appendChild(el("a", { href: report.url }, report.title));
        var note = report.activity_date || "";
        if (report.complete === false) { note += " · " + fill(strings.incomplete, { k: report.photos_received, n: report.photos_expected }); }
        li.appendChild(el("span", { "class": "hint" }, " " + note));
        recent.appendChild(li);
      });
      document.getElementById("outbox-recent").hidden = !(data.recent_reports || []).length;
    }).catch(function () {});
  }

  function askToKeep() {
    var box = document.getElementById("outbox-storage");
    if (!navigator.storage || !navigator.storage.persist) {
      box.textContent = strings.persist_denied; box.hidden = false; return;
    }
    navigator.storage.persisted().then(function (already) {
      return already || navigator.storage.persist();
    }).then(function (granted) {
      box.textContent = granted ? strings.persist_granted : strings.persist_denied;
      box.className = granted ? "alert alert-info" : "alert alert-error";
      box.hidden = false;
      root.setAttribute("data-persisted", granted ? "yes" : "no");
    }).catch(function () {});
  }

  var channel = outbox.channel();
  if (channel) {
    channel.onmessage = function (event) {
      var message = event.data || {};
      if (message.type === "changed" && message.progress) { progress[message.id] = message.progress; }
      if (message.type === "changed" && !message.progress) { delete progress[message.id]; }
      if (message.type === "retry") { network.textContent = strings.retry; }
      refresh();
    };
  }
  sendButton.addEventListener("click", function () { outbox.sync().then(refresh); });
  window.addEventListener("online", refresh);
  window.addEventListener("offline", refresh);
  refresh().then(function () { return outbox.sync(); }).then(refresh).catch(function () {});
  askToKeep();
  showReporting();
})();
