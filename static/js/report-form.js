/* Activity report form on slow links and without a signal.

   A new report, with JavaScript and IndexedDB: submitting saves the report in the outbox FIRST
   (fields, photos shrunk on the device to 1600 px on the long side as JPEG, a UUID per report and
   per photo, the device time), then opens the outbox, which sends it (static/js/outbox.js).
   Opened from the outbox as ?kotak=<uuid> ("Perbaiki"), the form is filled from the outbox and
   saving sends the fixed report again under the same key.

   The aspiration form (issue 18) goes the same way: a form with data-outbox-kind="aspiration"
   names its fields in data-outbox-fields, and its outbox entry is sent to /api/v1/aspirations.

   Editing a report, or without IndexedDB: photos are shrunk in the browser and the upload shows
   its progress. Without JavaScript, or if anything here fails, the form posts the original files
   and the server does the same work. */
(function () {
  "use strict";
  var form = document.getElementById("report-form") || document.querySelector("form[data-outbox-kind]");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var input = document.getElementById("photos");
  var progress = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var MAX_SIDE = 1600;
  var KIND = form.getAttribute("data-outbox-kind") || "report";
  var FIELDS = ["title", "date", "type", "description", "desa_code", "lat", "lon", "reach_offline",
                "reach_online", "links", "tags", "late_reason",
                // a dissemination (issue 17): the campaign panel of the form
                "campaign_id", "channel"];
  if (form.getAttribute("data-outbox-fields")) { FIELDS = form.getAttribute("data-outbox-fields").split(/\s+/); }
  var stringsBlock = document.getElementById("outbox-strings");
  var strings = {};
  try { strings = stringsBlock ? JSON.parse(stringsBlock.textContent) : {}; } catch (e) { strings = {}; }
  var outbox = window.KimOutbox;
  var outboxMode = !!(form.getAttribute("data-outbox-post") && outbox && window.indexedDB && stringsBlock);

  function toJpeg(file, always) {
    return new Promise(function (resolve) {
      if (!/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap) { resolve(file); return; }
      createImageBitmap(file).then(function (bitmap) {
        var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
        if (!always && scale === 1 && file.size < 1500000) { resolve(file); return; }
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bitmap.width * scale);
        canvas.height = Math.round(bitmap.height * scale);
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) {
          resolve(blob ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file);
        }, "image/jpeg", 0.85);
      }).catch(function () { resolve(file); });
    });
  }

  function chosenFiles() {
    return input && input.files ? Array.prototype.slice.call(input.files) : [];
  }

  /* ---- the outbox way ---- */

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (m, key) { return key in values ? values[key] : m; });
  }

  function showFieldErrors(errors) {
    Object.keys(errors || {}).forEach(function (name) {
      var field = document.getElementById(name === "photo" ? "photos" : name);
      if (!field) { return; }
      var note = document.createElement("p");
      note.className = "error";
      note.id = name + "-outbox-error";
      note.textContent = errors[name];
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", note.id);
      field.insertAdjacentElement("afterend", note);
      var wrapper = field.closest(".field");
      if (wrapper) { wrapper.classList.add("has-error"); }
      var details = field.closest("details");
      if (details) { details.open = true; }
    });
  }

  var revising = new URLSearchParams(window.location.search).get("kotak");

  function prefill() {
    if (!revising) { return; }
    Promise.all([outbox.get(revising), outbox.whoami()]).then(function (found) {
      var item = found[0];
      // Another account's report is not this volunteer's to see or fix.
      if (!item || !outbox.belongsTo(item, found[1])) { revising = null; return; }
      FIELDS.forEach(function (name) {
        if (form.elements[name] && item.fields && name in item.fields) { form.elements[name].value = item.fields[name]; }
      });
      status.textContent = strings.fixing || "";
      if (item.photos && item.photos.length) {
        var hint = document.createElement("p");
        hint.className = "hint";
        hint.id = "outbox-kept-photos";
        hint.textContent = fill(strings.kept_photos, { n: item.photos.length });
        input.insertAdjacentElement("afterend", hint);
      }
      var errors = Object.assign({}, item.errors || {});
      if (item.problem && strings.problems && strings.problems[item.problem]) { errors.photos = strings.problems[item.problem]; }
      showFieldErrors(errors);
      form.setAttribute("data-revising", item.id);
    });
  }

  /* What the sent list may show of an entry once the server has it: the chosen options' labels
     (an aspiration's kind and topic), never what was typed. */
  function neutralLabel() {
    return ["kind", "topic"].map(function (name) {
      var field = form.elements[name];
      var option = field && field.options && field.selectedIndex >= 0 ? field.options[field.selectedIndex] : null;
      return option && option.value ? option.text.trim() : "";
    }).filter(Boolean).join(" · ");
  }

  function saveToOutbox(submitter) {
    var fields = {};
    FIELDS.forEach(function (name) { if (form.elements[name]) { fields[name] = form.elements[name].value; } });
    var action = submitter && submitter.name === "action" ? submitter.value : "publish";
    status.textContent = strings.saving || "…";
    // The form kept by the service worker names nobody: then the account logged in on this device.
    var user = form.getAttribute("data-user") ? Promise.resolve(form.getAttribute("data-user")) : outbox.whoami();
    return Promise.all([user].concat(chosenFiles().map(function (file) { return toJpeg(file, true); }))).then(function (done) {
      var photos = done.slice(1);
      var report = {
        kind: KIND, user_id: done[0] || null, kim_id: Number(form.getAttribute("data-kim-id")),
        kim_name: form.getAttribute("data-kim-name"), post_url: form.getAttribute("data-outbox-post"),
        form_url: window.location.pathname, fields: fields, action: action, label: neutralLabel(),
        photos: photos.map(function (file) { return { blob: file, name: file.name }; })
      };
      return revising ? outbox.revise(revising, report) : outbox.add(report);
    }).then(function () {
      status.textContent = strings.saved || "";
      if (navigator.serviceWorker && navigator.serviceWorker.ready && window.SyncManager) {
        // Background Sync sends it even if the volunteer closes the app (Chromium); never the only way.
        navigator.serviceWorker.ready.then(function (reg) { return reg.sync.register("kim-outbox"); }).catch(function () {});
      }
      window.location.assign(stringsBlock.getAttribute("data-outbox-url"));
    });
  }

  /* ---- the direct way (editing; no IndexedDB) ---- */

  function uploadNow(submitter) {
    var files = chosenFiles();
    status.textContent = files.length ? status.dataset.preparing || "…" : "";
    Promise.all(files.map(function (file) { return toJpeg(file, false); })).then(function (shrunk) {
      var data = new FormData(form);
      data.delete("photos");
      shrunk.forEach(function (file) { data.append("photos", file, file.name); });
      if (submitter && submitter.name) { data.set(submitter.name, submitter.value); }
      var request = new XMLHttpRequest();
      // form.action would be the buttons named "action"; read the attribute instead.
      request.open("POST", form.getAttribute("action") || window.location.href);
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { progress.hidden = false; progress.value = Math.round(100 * e.loaded / e.total); }
      });
      request.addEventListener("load", function () {
        if (request.responseURL && request.responseURL !== window.location.href && request.status < 400) {
          window.location.assign(request.responseURL);
        } else {
          document.open(); document.write(request.responseText); document.close();
        }
      });
      request.addEventListener("error", function () { form.submit(); });
      request.send(data);
    });
  }

  /* A form kept for offline use was rendered on the day it was kept: its default date (and the
     latest date allowed) are today's on this device instead, unless the volunteer chose one. */
  function freshDate() {
    var field = form.elements.date;
    if (!field || revising) { return; }
    var now = new Date();
    var today = outbox.deviceTime(now).slice(0, 10);
    if (field.value === field.defaultValue) { field.value = today; }
    field.max = today;
  }

  if (outboxMode) { freshDate(); prefill(); }

  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    event.preventDefault();
    if (!outboxMode) { uploadNow(submitter); return; }
    saveToOutbox(submitter).catch(function () {
      // The device could not keep it (storage full, private mode): say so, and with a signal send it now.
      status.textContent = strings.save_failed || "";
      if (navigator.onLine !== false && !revising) { uploadNow(submitter); }
    });
  });
})();
