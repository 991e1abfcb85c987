/* Copy buttons (report pages, campaign share links); the field (data-field, else the first .share-url)
   stays for browsers without a clipboard. */
(function () {
  "use strict";
  document.querySelectorAll(".copy-link").forEach(function (button) {
    button.addEventListener("click", function () {
      var url = button.dataset.url;
      var done = function () { button.textContent = button.dataset.done; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url).then(done, function () { selectField(); });
      } else {
        selectField();
      }
      function selectField() {
        var field = (button.dataset.field && document.getElementById(button.dataset.field)) ||
          document.querySelector(".share-url");
        if (field) { field.focus(); field.select(); try { document.execCommand("copy"); done(); } catch (e) { /* user copies */ } }
      }
    });
  });
})();
