// Narrations: a recording is checked (kind, size) before it is sent, dropped or chosen, and
// sent with XHR so the bar shows real upload progress; the server checks again and decodes it.
"use strict";
(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("upload-file");
  const zone = document.getElementById("dropzone");
  const bar = document.getElementById("upload-progress");
  const percent = document.getElementById("upload-percent");
  const error = document.getElementById("upload-error");
  const button = document.getElementById("upload-button");
  const maxBytes = Number(form.dataset.maxBytes);
  const suffixes = form.dataset.suffixes.split(",");

  function show(message) {
    error.textContent = message;
    error.hidden = !message;
  }
  function refused(file) {
    const name = file.name.toLowerCase();
    if (!suffixes.some((suffix) => name.endsWith(suffix))) return form.dataset.wrongKind;
    if (file.size > maxBytes) return form.dataset.tooLarge;
    return "";
  }
  input.addEventListener("change", () => show(input.files[0] ? refused(input.files[0]) : ""));
  ["dragenter", "dragover"].forEach((name) =>
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    })
  );
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (!event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    show(refused(input.files[0]));
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) return;
    const problem = refused(file);
    show(problem);
    if (problem) return;
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-CSRFToken", window.consoleCsrfToken);
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (progress) => {
      if (!progress.lengthComputable) return;
      const value = Math.round((progress.loaded / progress.total) * 100);
      bar.value = value;
      bar.textContent = value + "%";
      percent.textContent = value + "%";
    });
    request.addEventListener("load", () => {
      button.disabled = false;
      let body = {};
      try {
        body = JSON.parse(request.responseText);
      } catch (ignored) {
        body = {};
      }
      if (request.status < 300 && body.url) {
        window.location.assign(body.url);
      } else {
        bar.value = 0;
        show(body.message || form.dataset.failed);
      }
    });
    request.addEventListener("error", () => {
      button.disabled = false;
      show(form.dataset.failed);
    });
    button.disabled = true;
    request.send(new FormData(form));
  });
})();
