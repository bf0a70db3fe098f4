/* The tourist page's enhancements; the page works without them. */
(() => {
  "use strict";
  const PAGES = "hoian-pages";
  const MEDIA = "hoian-media";
  const lang = document.documentElement.lang;
  const store = (key, value) => { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } };
  const read = (key) => { try { return localStorage.getItem(key); } catch (e) { return null; } };

  // Remember the language: the cookie lets the server answer the next plaque in it.
  const remember = (code) => {
    store("hoian:lang", code);
    document.cookie = "hoian_lang=" + code + "; max-age=31536000; path=/; samesite=lax";
  };
  const params = new URLSearchParams(location.search);
  if (params.has("lang")) remember(lang);
  const chosen = read("hoian:lang");
  if (!params.has("lang") && chosen && chosen !== lang && !/(^|; )hoian_lang=/.test(document.cookie)) {
    params.set("lang", chosen);
    location.replace("?" + params.toString());
    return;
  }
  document.querySelectorAll("nav a[hreflang]").forEach((link) => {
    link.addEventListener("click", () => remember(link.getAttribute("hreflang")));
  });

  const audio = document.getElementById("player");
  if (audio) {
    // <audio> draws no captions: show the active cue under the player.
    const box = document.getElementById("caption");
    const track = audio.textTracks && audio.textTracks[0];
    if (track && box) {
      track.mode = "hidden";
      track.addEventListener("cuechange", () => {
        const cues = Array.from(track.activeCues || []);
        box.textContent = cues.map((cue) => cue.text).join("\n");
      });
      audio.addEventListener("play", () => { box.hidden = false; });
    }
    // Resume where the tourist stopped listening.
    const key = "hoian:pos:" + audio.dataset.key;
    audio.addEventListener("loadedmetadata", () => {
      const at = parseFloat(read(key) || "0");
      if (at > 0 && at < audio.duration - 3) audio.currentTime = at;
    }, { once: true });
    let saved = 0;
    audio.addEventListener("timeupdate", () => {
      if (Math.abs(audio.currentTime - saved) >= 3) { saved = audio.currentTime; store(key, String(saved)); }
    });
    audio.addEventListener("ended", () => store(key, "0"));
  }

  // "Report a translation error": the sentence selected in the transcript (or the caption
  // shown when the form is opened) is copied into it; without JavaScript it is pasted.
  const report = document.querySelector("form[data-report]");
  if (report) {
    const quote = report.elements.namedItem("quote");
    const about = report.elements.namedItem("guide_lang");
    const areas = Array.from(document.querySelectorAll("[data-quotable]"));
    let typed = false;
    quote.addEventListener("input", () => { typed = true; });
    const offer = (text, code) => {
      const sentence = text.replace(/\s+/g, " ").trim().slice(0, 1000);
      if (!sentence || typed) return;
      quote.value = sentence;
      if (code) about.value = code;
    };
    document.addEventListener("selectionchange", () => {
      const selection = document.getSelection();
      if (!selection || selection.isCollapsed) return;
      const area = areas.find((element) => element.contains(selection.anchorNode));
      if (area) offer(selection.toString(), area.getAttribute("lang"));
    });
    const details = report.closest("details");
    const caption = document.getElementById("caption");
    if (details && caption) {
      details.addEventListener("toggle", () => {
        if (details.open && !quote.value && !caption.hidden) offer(caption.textContent, caption.getAttribute("lang"));
      });
    }
  }

  // A 360° view: the viewer (Pannellum) is fetched only when the tourist opens one.
  let viewer = null;
  const load = (link) => viewer || (viewer = new Promise((resolve, reject) => {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = link.dataset.css;
    document.head.appendChild(css);
    const script = document.createElement("script");
    script.src = link.dataset.js;
    script.onload = () => resolve(window.pannellum);
    script.onerror = reject;
    document.head.appendChild(script);
  }));
  document.querySelectorAll("a[data-panorama]").forEach((link) => {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const box = document.getElementById(link.dataset.panorama);
      try {
        const pannellum = await load(link);
        box.hidden = false;
        document.getElementById(box.id + "-help").hidden = false;
        pannellum.viewer(box, { type: "equirectangular", panorama: link.getAttribute("href"), autoLoad: true });
        link.hidden = true;
        box.focus();
      } catch (e) {
        location.href = link.href; // no viewer: the JPEG itself
      }
    });
  });

  if (!("serviceWorker" in navigator) || !window.caches) return;
  const panel = document.getElementById("offline");
  const status = panel && panel.querySelector(".status");
  const say = (name) => { if (status) status.textContent = panel.dataset[name]; };
  const playable = () => {
    if (!audio) return [];
    const sources = Array.from(audio.querySelectorAll("source"));
    const pick = sources.find((s) => audio.canPlayType(s.type)) || sources[0];
    const captions = audio.querySelector("track");
    return [pick && pick.src, captions && captions.src].filter(Boolean);
  };
  const keep = async (pages, media) => {
    const [pageCache, mediaCache] = await Promise.all([caches.open(PAGES), caches.open(MEDIA)]);
    for (const url of pages) await pageCache.add(url);
    for (const url of media) if (!(await mediaCache.match(url))) await mediaCache.add(url);
  };
  const save = async (pages, media) => {
    say("saving");
    try { await keep(pages, media); say("saved"); } catch (e) { say("failed"); }
  };
  const saveTour = async (slug) => {
    const response = await fetch("/api/v1/packs/tours/" + encodeURIComponent(slug) + "?lang=" + lang);
    if (!response.ok) throw new Error(response.statusText);
    const pack = await response.json();
    const kept = ["audio", "captions", "still", "panorama"];
    const media = pack.files.filter((f) => kept.includes(f.kind)).map((f) => f.url);
    await keep([...pack.pages, location.href], media);
  };
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(() => navigator.serviceWorker.ready).then(async () => {
    // The first visit loads before the worker runs: keep this page now.
    const cache = await caches.open(PAGES);
    if (!(await cache.match(location.href))) await cache.add(location.href);
    if (!panel) return;
    panel.hidden = false;
    const savePage = panel.querySelector("[data-save-page]");
    if (savePage) savePage.addEventListener("click", () => save([location.href], playable()));
    panel.querySelectorAll("[data-save-tour]").forEach((button) => {
      button.addEventListener("click", async () => {
        say("saving");
        try { await saveTour(button.dataset.saveTour); say("saved"); } catch (e) { say("failed"); }
      });
    });
  }).catch(() => { /* no offline support: the page still works */ });
})();
