// Live preview of a bulletin's body: after a pause in typing, the body is posted to
// the preview address (with the form's CSRF token) and the sanitised HTML it returns
// is shown. Without JavaScript the form's "Preview" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("bulletin-form");
  var pane = document.getElementById("bulletin-preview");
  if (!form || !pane || !window.fetch) {
    return;
  }
  var body = form.querySelector("[data-preview-source]");
  var token = form.querySelector("input[name=csrfmiddlewaretoken]");
  var url = form.getAttribute("data-preview-url");
  if (!body || !token || !url) {
    return;
  }
  var timer = null;
  var latest = 0;

  function refresh() {
    var sent = ++latest;
    var data = new FormData();
    data.append("body", body.value);
    data.append("csrfmiddlewaretoken", token.value);
    fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token.value },
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        // Only the answer to the newest request; the server sanitised it (nh3).
        if (html !== null && sent === latest) {
          pane.innerHTML = html;
        }
      })
      .catch(function () {
        /* offline: keep the last preview */
      });
  }

  body.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  });
})();
