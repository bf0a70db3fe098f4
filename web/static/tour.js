/* "Play the tour": each stop's guide after the one before, remembering where the tourist is. */
(() => {
  "use strict";
  const panel = document.getElementById("tour-player");
  const players = Array.from(document.querySelectorAll("audio.stop-audio"));
  if (!panel || !players.length) return;
  const key = "hoian:tour:" + panel.dataset.tour;
  const status = document.getElementById("tour-status");
  const button = document.getElementById("play-tour");
  const read = () => { try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; } };
  const store = (value) => { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ } };
  const stopOf = (audio) => Number(audio.closest("[data-n]").dataset.n);
  const count = document.querySelectorAll(".stop").length;
  let current = null;

  const say = (audio) => {
    status.textContent = panel.dataset.playing.replace("{n}", stopOf(audio)).replace("{count}", count);
  };
  const play = (audio, at) => {
    if (current && current !== audio) current.pause();
    current = audio;
    const start = () => { if (at > 0 && at < audio.duration - 1) audio.currentTime = at; audio.play(); };
    if (audio.readyState >= 1) start(); else { audio.addEventListener("loadedmetadata", start, { once: true }); audio.load(); }
    say(audio);
    audio.closest(".stop").scrollIntoView({ block: "nearest" });
  };
  players.forEach((audio, index) => {
    audio.addEventListener("play", () => {
      if (current && current !== audio) current.pause();
      current = audio;
      say(audio);
      store({ stop: stopOf(audio), time: audio.currentTime });
    });
    let saved = 0;
    audio.addEventListener("timeupdate", () => {
      if (Math.abs(audio.currentTime - saved) >= 2) { saved = audio.currentTime; store({ stop: stopOf(audio), time: saved }); }
    });
    audio.addEventListener("ended", () => {
      const next = players[index + 1];
      if (next) { store({ stop: stopOf(next), time: 0 }); play(next, 0); }
      else { store(null); status.textContent = ""; }
    });
  });
  const where = read();
  if (where && where.stop) button.textContent = panel.dataset.resume;
  panel.hidden = false;
  button.addEventListener("click", () => {
    const at = read();
    const audio = (at && players.find((p) => stopOf(p) === at.stop)) || players[0];
    play(audio, at && at.stop === stopOf(audio) ? at.time : 0);
  });
})();
