// Site images and 360° views: a file larger than the server takes is refused before it is
// sent (the server refuses it too); each form's limit comes from its data-max-bytes.
"use strict";
(function () {
  document.querySelectorAll("form[data-max-bytes]").forEach(function (form) {
    const input = form.querySelector('input[type="file"]');
    const message = form.querySelector("[data-too-large]");
    const max = Number(form.getAttribute("data-max-bytes"));
    if (!input || !message) return;
    function check() {
      const file = input.files && input.files[0];
      const tooLarge = Boolean(file && file.size > max);
      message.textContent = tooLarge ? message.getAttribute("data-too-large") : "";
      input.setCustomValidity(tooLarge ? message.textContent : "");
      return !tooLarge;
    }
    input.addEventListener("change", check);
    form.addEventListener("submit", function (event) { if (!check()) event.preventDefault(); });
  });
})();
