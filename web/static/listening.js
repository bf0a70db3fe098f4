/* First-party listening analytics for the tourist page: what was opened, played and heard to
   which quarter, sent anonymously (no cookie, no account) to /api/v1/events in batches. Events
   wait in localStorage while the phone is offline and go out when the signal comes back; each
   carries its own id, so a batch sent twice counts once. The page works without this file. */
(() => {
  "use strict";
  const URL_ = "/api/v1/events";
  const KEY = "hoian:events";
  const MAX_QUEUE = 500;
  const BATCH = 50;
  const audio = document.getElementById("player");
  const slug = (location.pathname.match(/^\/s\/([a-z0-9-]+)/) || [])[1];
  if (!slug) return;
  const asked = document.documentElement.lang;
  const served = (audio && audio.getAttribute("lang")) || asked;

  const load = () => { try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; } };
  const save = (queue) => { try { localStorage.setItem(KEY, JSON.stringify(queue.slice(-MAX_QUEUE))); } catch (e) { /* private mode */ } };
  const newId = () => (crypto.randomUUID ? crypto.randomUUID().replace(/-/g, "") :
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(""));
  let memory = [];  // used when localStorage is not available
  const queued = () => { const stored = load(); return stored.length ? stored : memory; };

  const record = (kind, extra) => {
    const event = Object.assign({
      id: newId(), kind: kind, site: slug, lang: served, source: navigator.onLine ? "page" : "offline",
      at: new Date().toISOString(),
    }, extra || {});
    if (asked && asked !== served && !event.requested_lang) event.requested_lang = asked;
    const queue = queued().concat([event]);
    memory = queue;
    save(queue);
    schedule();
  };

  const forget = (sent) => {
    const ids = new Set(sent.map((e) => e.id));
    memory = queued().filter((e) => !ids.has(e.id));
    save(memory);
  };
  const body = (events) => new Blob([JSON.stringify({ events: events })], { type: "application/json" });
  let timer = null;
  const schedule = () => { if (!timer) timer = setTimeout(() => { timer = null; flush(false); }, 4000); };
  const flush = async (leaving) => {
    if (!navigator.onLine) return;
    const batch = queued().slice(0, BATCH);
    if (!batch.length) return;
    if (leaving || !window.fetch) {
      // The page is going away: the browser delivers a beacon after it closes.
      if (navigator.sendBeacon && navigator.sendBeacon(URL_, body(batch))) forget(batch);
      return;
    }
    try {
      const response = await fetch(URL_, { method: "POST", body: body(batch), keepalive: true,
        credentials: "omit", headers: { "Content-Type": "application/json" } });
      // Refused as invalid: sending it again would not help. Too many, or the server busy: later.
      if (response.ok || (response.status >= 400 && response.status < 500 && response.status !== 429)) {
        forget(batch);
        if (queued().length) schedule();
      }
    } catch (e) { /* offline after all: kept for later */ }
  };
  window.addEventListener("online", () => flush(false));
  window.addEventListener("pagehide", () => flush(true));
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") flush(true); });

  record("guide_opened");
  if (audio) {
    const track = audio.dataset.key || slug + "/" + served;
    let started = false;
    const reached = new Set();
    const duration = () => (isFinite(audio.duration) ? Math.round(audio.duration) : undefined);
    audio.addEventListener("play", () => {
      if (!started) { started = true; record("play_started", { track: track }); }
    });
    audio.addEventListener("timeupdate", () => {
      if (!audio.duration || !isFinite(audio.duration)) return;
      const done = (audio.currentTime / audio.duration) * 100;
      for (const mark of [25, 50, 75]) {
        if (done >= mark && !reached.has(mark)) {
          reached.add(mark);
          record("progress_" + mark, { track: track, duration_s: duration() });
        }
      }
    });
    audio.addEventListener("ended", () => {
      if (!reached.has(100)) { reached.add(100); record("progress_100", { track: track, duration_s: duration() }); }
    });
  }
  document.querySelectorAll("nav a[hreflang]").forEach((link) => {
    link.addEventListener("click", () => {
      if (link.getAttribute("hreflang") !== asked) record("language_switched", { requested_lang: link.getAttribute("hreflang") });
      flush(true);
    });
  });
  document.querySelectorAll("[data-save-page], [data-save-tour]").forEach((button) => {
    button.addEventListener("click", () => record("pack_downloaded", { track: button.dataset.saveTour || undefined }));
  });
  flush(false);
})();
