/* Region filters: type a name, pick a region, the form sends its code (templates/_macros.html).
   The visible field keeps accepting a code typed by hand; without this script it is the field. */
(function () {
  "use strict";
  var CODE = /^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$/;

  function setUp(box) {
    var input = box.querySelector("input");
    var list = box.querySelector(".region-options");
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = input.name;
    hidden.value = input.value;
    input.removeAttribute("name");
    input.setAttribute("aria-autocomplete", "list");
    if (input.dataset.title) { input.value = input.dataset.title; }
    box.appendChild(hidden);
    var timer = null, found = [], asked = 0;

    function choose(region) {
      hidden.value = region.code;
      input.value = region.name + " (" + region.code + ")";
      list.hidden = true;
    }
    function show(items) {
      found = items;
      list.textContent = "";
      items.forEach(function (region) {
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "link-button";
        button.textContent = region.path + " · " + region.code;
        button.addEventListener("click", function () { choose(region); });
        li.appendChild(button);
        list.appendChild(li);
      });
      if (!items.length) {
        var none = document.createElement("li");
        none.textContent = box.dataset.labelNone;
        list.appendChild(none);
      }
      list.hidden = false;
    }
    input.addEventListener("input", function () {
      var text = input.value.trim();
      clearTimeout(timer);
      hidden.value = CODE.test(text) ? text : "";
      if (text.length < 3 || CODE.test(text)) { list.hidden = true; found = []; return; }
      timer = setTimeout(function () {
        var mine = ++asked;
        fetch(box.dataset.api + "?per_page=8&q=" + encodeURIComponent(text), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { items: [] }; })
          .then(function (data) { if (mine === asked) { show(data.items || []); } })
          .catch(function () { list.hidden = true; });
      }, 250);
    });
    input.form.addEventListener("submit", function () {
      // A name typed but not picked: take the best match shown.
      if (!hidden.value && input.value.trim() && found.length) { hidden.value = found[0].code; }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".region-picker"), setUp);
})();
