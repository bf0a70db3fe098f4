// A job's page follows the job live: it polls the job's JSON until the job ends.
"use strict";
(function () {
  const root = document.getElementById("job");
  if (!root || root.dataset.final === "true") return;
  const url = root.dataset.url;
  function render(job) {
    const badge = document.getElementById("job-state");
    badge.textContent = job.state_words;
    badge.className = "badge " + ({ succeeded: "ok", failed: "bad" }[job.status] || "busy");
    document.getElementById("job-progress").value = job.progress;
    document.getElementById("job-percent").textContent = Math.round(job.progress * 100) + "%";
    const error = document.getElementById("job-error");
    error.textContent = job.words;
    error.hidden = !job.words;
    for (const stage of job.stages) {
      const row = document.getElementById("stage-" + stage.id);
      if (!row) continue;
      const state = row.querySelector(".stage-state");
      state.textContent = stage.state_words;
      state.dataset.state = stage.status;
      row.querySelector(".stage-progress").textContent = Math.round(stage.progress * 100) + "%";
      row.querySelector(".stage-attempts").textContent = stage.attempts;
      row.querySelector(".stage-words").textContent = stage.words;
    }
    root.dataset.final = job.final ? "true" : "false";
  }
  function poll() {
    window
      .consoleFetch(url)
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((job) => {
        render(job);
        if (!job.final) window.setTimeout(poll, 1000);
      })
      .catch(() => window.setTimeout(poll, 3000));
  }
  window.setTimeout(poll, 500);
})();
