/* Activity report form on slow links: photos are shrunk in the browser (long side 1600 px,
   JPEG) before upload, and the upload shows its progress. Without JavaScript, or if anything
   here fails, the form posts the original files and the server does the same work. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var input = document.getElementById("photos");
  var progress = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var MAX_SIDE = 1600;

  function shrink(file) {
    return new Promise(function (resolve) {
      if (!/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap) { resolve(file); return; }
      createImageBitmap(file).then(function (bitmap) {
        var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
        if (scale === 1 && file.size < 1500000) { resolve(file); return; }
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

  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    event.preventDefault();
    var files = input && input.files ? Array.prototype.slice.call(input.files) : [];
    status.textContent = files.length ? status.dataset.preparing || "…" : "";
    Promise.all(files.map(shrink)).then(function (shrunk) {
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
  });
})();
