// The console's script: every call it makes carries the page's CSRF token. Pages that need
// more (upload progress, live job progress, players) load their own module on top of this.
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const token = meta ? meta.getAttribute("content") : "";
  // A same-origin request to the console with the token the server checks.
  window.consoleFetch = function (url, options) {
    const init = Object.assign({ credentials: "same-origin" }, options || {});
    init.headers = Object.assign({ "X-CSRFToken": token, Accept: "application/json" }, init.headers || {});
    return fetch(url, init);
  };
  window.consoleCsrfToken = token;
})();
