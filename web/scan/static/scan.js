/**
 * The inspector's scanner: pairs the phone, reads ticket codes with the camera, asks the
 * check-in API and, when a call fails or takes longer than 1.5 s, decides on the phone with
 * verify.js; scans decided offline wait in IndexedDB and go to POST /api/v1/checkin/sync when
 * the network is back, with the phone's clock, so that the server corrects a clock that is off.
 *
 * Kept in IndexedDB ("hoian-scan"): the device token (never in a URL, never in a cookie), the
 * gate (site, counts, the clock's offset), the downloaded keys, products, revocations and this
 * gate's recent entries, and the queue of offline scans.
 */
import { OfflineVerifier, parseSerial } from "./verify.js";

const ONLINE_TIMEOUT_MS = 1500; // a slower answer is decided on the phone
const REFRESH_MS = 60_000; // keys, revocations, entries and counts, while online
const REARM_MS = 600; // a code is read again only after it left the camera's view this long
const VERDICT_MS = { yes: 1500, no: 2500 };
const TIERS_TO_CHECK = new Set(["domestic", "child", "senior", "student"]);
const TICKET_TEXT = /^[A-Z2-7]{141}$/;
const PAIRING_TEXT = /(?:#pair=)?([0-9A-Za-z]{5}-?[0-9A-Za-z]{5})$/;

const $ = (id) => document.getElementById(id);
const WORDS = JSON.parse($("scan-words").textContent);
const t = (key, values = {}) =>
  (WORDS[key] ?? key).replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));

// --- storage ----------------------------------------------------------------------------------

const database = new Promise((resolve, reject) => {
  const request = indexedDB.open("hoian-scan", 1);
  request.onupgradeneeded = () => {
    request.result.createObjectStore("kv");
    request.result.createObjectStore("queue", { keyPath: "nonce" });
  };
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

async function store(name, mode, work) {
  const db = await database;
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(name, mode);
    const request = work(transaction.objectStore(name));
    transaction.oncomplete = () => resolve(request.result);
    transaction.onerror = () => reject(transaction.error);
  });
}

const kv = {
  get: (key) => store("kv", "readonly", (s) => s.get(key)),
  set: (key, value) => store("kv", "readwrite", (s) => s.put(value, key)),
  delete: (key) => store("kv", "readwrite", (s) => s.delete(key)),
};
const queue = {
  all: () => store("queue", "readonly", (s) => s.getAll()),
  put: (item) => store("queue", "readwrite", (s) => s.put(item)),
  delete: (nonce) => store("queue", "readwrite", (s) => s.delete(nonce)),
};

// --- the API ------------------------------------------------------------------------------------

/** The network failed, or answered too slowly or with a server error: decide on the phone. */
class Offline extends Error {}

class ApiError extends Error {
  constructor(status, reason) {
    super(reason);
    this.status = status;
    this.reason = reason;
  }
}

const state = {
  token: null,
  gate: null, // GET /api/v1/checkin/gate
  offset: 0, // server clock minus this phone's, in ms
  verifier: null,
  exited: new Set(), // serials that left this site (exit mode)
  online: navigator.onLine,
  mode: "entry",
  last: null, // the last admitted check-in: { nonce, at, queued, serial }
  seen: null, // the code in view, read once until it leaves the view
  busy: false,
};
window.scanLog = []; // every verdict shown, for people debugging a gate (and for the tests)

async function api(path, { method = "GET", body, timeout = ONLINE_TIMEOUT_MS, auth = true } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && state.token) headers.Authorization = `Bearer ${state.token}`;
  let response;
  let data;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: "no-store",
      credentials: "omit",
    });
    data = await response.json().catch(() => ({}));
  } catch {
    throw new Offline();
  } finally {
    clearTimeout(timer);
  }
  if (response.status >= 500) throw new Offline();
  if (response.status === 401 && auth) {
    await forgetDevice(data.reason);
    throw new ApiError(401, data.reason);
  }
  if (!response.ok) throw new ApiError(response.status, data.reason ?? "error");
  return data;
}

function setOnline(online) {
  state.online = online;
  const pill = $("net");
  pill.textContent = online ? t("online") : t("offline");
  pill.className = `pill ${online ? "online" : "offline"}`;
}

// --- pairing ------------------------------------------------------------------------------------

function show(panel) {
  $("starting").hidden = true;
  $("pairing").hidden = panel !== "pairing";
  $("scanner").hidden = panel !== "scanner";
}

function pairingMessage(text) {
  const message = $("pairing-message");
  message.textContent = text;
  message.hidden = !text;
}

async function pair(code) {
  try {
    const paired = await api("/api/v1/devices/pair", {
      method: "POST",
      body: { code },
      auth: false,
      timeout: 10_000,
    });
    state.token = paired.access_token;
    await kv.set("token", paired.access_token);
    await kv.set("device", paired.device);
    pairingMessage("");
    await startScanning();
  } catch (error) {
    if (error instanceof Offline) pairingMessage(t("needs_network"));
    else pairingMessage(t(error.reason === "invalid" ? "pairing_unknown" : error.reason));
  }
}

/** The token was refused: a revoked device forgets it and says so. */
async function forgetDevice(reason) {
  state.token = null;
  state.gate = null;
  await kv.delete("token");
  await kv.delete("gate");
  $("site-name").textContent = "";
  show("pairing");
  pairingMessage(reason === "token_expired" ? "" : t("device_revoked"));
}

// --- what the phone keeps for offline -----------------------------------------------------------

async function pages(path, key) {
  const items = [];
  let cursor = 0;
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}${key}=${cursor}&limit=5000`, { timeout: 10_000 });
    items.push(...page.items);
    cursor = page.cursor;
    if (!page.more) return items;
  }
}

async function refresh() {
  if (!state.token) return;
  try {
    const sent = Date.now();
    const gate = await api("/api/v1/checkin/gate", { timeout: 5000 });
    state.offset = Date.parse(gate.server_time) - (sent + Date.now()) / 2;
    state.gate = gate;
    const bundle = {
      keys: await api("/api/v1/checkin/keys", { timeout: 10_000 }),
      products: await api(`/api/v1/products?lang=${document.body.dataset.lang}`, {
        timeout: 10_000,
      }),
      revocations: { items: await pages("/api/v1/checkin/revocations", "since") },
      entries: { items: await pages(`/api/v1/checkin/entries?site=${gate.site}`, "after") },
    };
    await kv.set("gate", gate);
    await kv.set("offset", state.offset);
    await kv.set("bundle", bundle);
    await buildVerifier(bundle);
    setOnline(true);
    renderGate();
    await upload();
  } catch (error) {
    if (error instanceof Offline) setOnline(false);
    else if (error.reason === "no_site") pairingMessage(t("no_site"));
  }
}

async function buildVerifier(bundle) {
  const verifier = await OfflineVerifier.fromBundle(bundle, { site: state.gate.site });
  const exited = new Set();
  for (const entry of bundle.entries.items) {
    verifier.recordEntry(entry.serial, entry.site, new Date(entry.entered_at));
    if (entry.exited_at && entry.site === state.gate.site) exited.add(entry.serial);
  }
  // This phone's own scans that the server has not seen yet.
  for (const item of await queue.all()) {
    if (!item.ticket_serial) continue;
    if (item.direction === "exit" && item.admitted) exited.add(item.ticket_serial);
    else if (item.admitted && !item.annulled_at) {
      const at = Date.parse(item.scanned_at) + state.offset;
      verifier.recordEntry(item.ticket_serial, item.site, at);
    }
  }
  state.verifier = verifier;
  state.exited = exited;
}

function renderGate() {
  const gate = state.gate;
  if (!gate) return;
  const lang = document.body.dataset.lang;
  $("site-name").textContent = gate.site_names[lang] ?? gate.site_names.vi ?? gate.site;
  $("count-here").textContent = String(gate.today.entries_here);
  $("occupancy").textContent = String(gate.today.occupancy);
  const minutes = Math.round(state.offset / 60_000);
  $("clock").hidden = Math.abs(minutes) < 2;
  $("clock").textContent = t("clock", { n: Math.abs(minutes) });
}

async function renderQueue() {
  const waiting = (await queue.all()).length;
  $("queue").hidden = waiting === 0;
  $("queue").textContent = t("queued", { n: waiting });
}

/** Offline scans to the server, oldest first; its answers name the conflicts it found. */
async function upload() {
  const items = await queue.all();
  if (items.length === 0) return;
  items.sort((a, b) => a.scanned_at.localeCompare(b.scanned_at));
  const scans = items.map(({ ticket_serial: _, ...scan }) => scan);
  const answer = await api("/api/v1/checkin/sync", {
    method: "POST",
    body: { scans, sent_at: new Date().toISOString() },
    timeout: 15_000,
  });
  for (const item of items) await queue.delete(item.nonce);
  const found = answer.results.filter((result) => result.conflict);
  const box = $("conflicts");
  box.replaceChildren();
  const head = document.createElement("p");
  head.textContent = found.length
    ? t("conflicts", { n: found.length })
    : t("uploaded", { n: items.length });
  box.append(head);
  if (found.length) {
    const list = document.createElement("ul");
    for (const result of found) {
      const line = document.createElement("li");
      line.textContent = `${result.ticket?.serial ?? "?"}: ${t(`conflict_${result.conflict}`)}`;
      line.dataset.conflict = result.conflict;
      list.append(line);
    }
    box.append(list);
  }
  box.hidden = false;
  if (state.last?.queued) state.last = null; // uploaded: annulled with the API from now on
  renderAnnul();
  await renderQueue();
  await refreshCounts();
}

async function refreshCounts() {
  try {
    state.gate = await api("/api/v1/checkin/gate", { timeout: 5000 });
    await kv.set("gate", state.gate);
    renderGate();
  } catch {
    // Counts wait for the next refresh.
  }
}

// --- scanning -------------------------------------------------------------------------------------

function newNonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function decideOffline(code, at, direction) {
  const verdict = await state.verifier.check(code, at);
  verdict.direction = direction;
  verdict.mode = "offline";
  if (direction === "entry") {
    state.verifier.admit(verdict, at);
    return verdict;
  }
  if (verdict.reason === "invalid") return verdict;
  const serial = verdict.claims.serial;
  const here = state.verifier.entries.get(parseSerial(serial))?.has(state.gate.site) ?? false;
  const reason = !here ? "not_entered" : state.exited.has(serial) ? "already_exited" : "ok";
  if (reason === "ok") state.exited.add(serial);
  return { ...verdict, status: reason === "ok" ? "ok" : "error", reason, entries_left: null };
}

async function scan(what, read = performance.now()) {
  const nonce = newNonce();
  const phoneNow = new Date();
  const direction = state.mode;
  const body = {
    ...what,
    site: state.gate.site,
    nonce,
    scanned_at: phoneNow.toISOString(),
    direction,
  };
  let verdict;
  let queued = false;
  try {
    verdict = await api("/api/v1/checkin/redeem", { method: "POST", body });
    setOnline(true);
  } catch (error) {
    if (!(error instanceof Offline)) {
      if (error.status !== 401) showVerdict(failed(error.reason), false);
      return;
    }
    setOnline(false);
    if (what.secret === undefined || !state.verifier) {
      showVerdict(failed("needs_network"), true);
      return;
    }
    verdict = await decideOffline(what.secret, new Date(phoneNow.getTime() + state.offset), direction);
    await queue.put({
      ...body,
      admitted: verdict.status === "ok",
      ticket_serial: verdict.claims?.serial ?? null,
    });
    queued = true;
    await renderQueue();
  }
  showVerdict(verdict, queued, read);
  if (verdict.status !== "ok" || !state.gate) return;
  const today = state.gate.today;
  if (direction === "entry") {
    today.entries_here += 1;
    today.occupancy += 1;
    state.last = { nonce, at: Date.now(), queued, serial: verdict.ticket?.serial ?? verdict.claims?.serial };
  } else {
    today.occupancy = Math.max(0, today.occupancy - 1);
  }
  renderGate();
  renderAnnul();
}

function failed(reason) {
  return { status: "error", reason, detail: null, entries_left: null, direction: state.mode };
}

// --- annul the last check-in --------------------------------------------------------------------

function annulWindowMs() {
  return (state.gate?.annul_minutes ?? 5) * 60_000;
}

function renderAnnul() {
  const last = state.last;
  $("annul").hidden = !last || Date.now() - last.at > annulWindowMs();
}

async function annulLast() {
  const last = state.last;
  if (!last) return;
  if (last.queued) {
    // Not uploaded yet: the scan goes up as annulled, and nobody entered on it.
    const items = await queue.all();
    const item = items.find((candidate) => candidate.nonce === last.nonce);
    if (item && item.ticket_serial) {
      item.annulled_at = new Date().toISOString();
      await queue.put(item);
      state.verifier.entries.get(parseSerial(item.ticket_serial))?.delete(item.site);
    }
  } else {
    try {
      await api("/api/v1/checkin/annul", { method: "POST", body: { nonce: last.nonce } });
    } catch (error) {
      showVerdict(failed(error instanceof Offline ? "needs_network" : error.reason), false);
      return;
    }
  }
  state.last = null;
  if (state.gate) {
    state.gate.today.entries_here = Math.max(0, state.gate.today.entries_here - 1);
    state.gate.today.occupancy = Math.max(0, state.gate.today.occupancy - 1);
  }
  renderGate();
  renderAnnul();
  showVerdict({ status: "error", reason: "annulled", direction: "entry" }, last.queued);
}

// --- the verdict ----------------------------------------------------------------------------------

let hideTimer = null;
let audio = null;

function beep(yes) {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    // Yes: two short rising notes. No: one long low buzz. Told apart without looking.
    const notes = yes ? [[880, 0, 0.09], [1320, 0.11, 0.09]] : [[220, 0, 0.45]];
    for (const [frequency, start, length] of notes) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = yes ? "sine" : "square";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.25, now + start);
      gain.gain.exponentialRampToValueAtTime(0.001, now + start + length);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(now + start);
      oscillator.stop(now + start + length + 0.02);
    }
  } catch {
    // No sound on this phone: the colour and the vibration remain.
  }
  navigator.vibrate?.(yes ? 80 : [220, 90, 220]);
}

function reasonText(verdict) {
  if (verdict.direction === "exit" && verdict.status === "ok") return t("exit_ok");
  if (verdict.detail === "device_site") return t("device_site");
  return t(verdict.reason);
}

function detailText(verdict) {
  if (!verdict.detail || verdict.detail === "device_site") return "";
  return WORDS[verdict.detail] ? t(verdict.detail) : verdict.detail;
}

/** Show a verdict; `read` is when the code was read, so the log says how long it took. */
function showVerdict(verdict, offline, read = performance.now()) {
  const yes = verdict.status === "ok";
  const tier = verdict.ticket?.tier ?? verdict.claims?.tier;
  const left = verdict.direction !== "exit" ? verdict.entries_left : null;
  $("verdict-reason").textContent = reasonText(verdict);
  $("verdict-detail").textContent = detailText(verdict);
  $("verdict-tier").textContent = yes && TIERS_TO_CHECK.has(tier) ? t(`tier_${tier}`) : "";
  $("verdict-left").textContent = left === null || left === undefined ? "" : t("entries_left", { n: left });
  $("verdict-mode").textContent = offline ? t("decided_offline") : "";
  const box = $("verdict");
  box.className = `verdict ${yes ? "yes" : "no"}`;
  box.dataset.reason = verdict.reason;
  box.dataset.mode = offline ? "offline" : "online";
  box.hidden = false;
  window.scanLog.push({
    status: verdict.status,
    reason: verdict.reason,
    detail: verdict.detail ?? null,
    direction: verdict.direction ?? "entry",
    serial: verdict.ticket?.serial ?? verdict.claims?.serial ?? null,
    mode: offline ? "offline" : "online",
    ms: Math.round(performance.now() - read),
  });
  beep(yes);
  clearTimeout(hideTimer);
  hideTimer = setTimeout(() => (box.hidden = true), yes ? VERDICT_MS.yes : VERDICT_MS.no);
}

// --- the camera ---------------------------------------------------------------------------------

async function reader() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const detector = new BarcodeDetector({ formats: ["qr_code"] });
        return async (video) => (await detector.detect(video))[0]?.rawValue ?? null;
      }
    } catch {
      // Declared but not working on this phone: jsQR reads instead.
    }
  }
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    if (!video.videoWidth || typeof window.jsQR !== "function") return null;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    return window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" })?.data ?? null;
  };
}

async function startCamera() {
  const video = $("video");
  $("camera").hidden = false;
  if (video.srcObject) return;
  const message = $("camera-message");
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
    await video.play();
  } catch (error) {
    message.textContent = error?.name === "NotAllowedError" ? t("camera_blocked") : t("no_camera");
    message.hidden = false;
    return;
  }
  const read = await reader();
  let empty = 0;
  const tick = async () => {
    let text = null;
    try {
      text = await read(video);
    } catch {
      text = null;
    }
    const now = Date.now();
    if (text === null) {
      empty = empty || now;
      if (now - empty > REARM_MS) state.seen = null; // the code left the view
    } else {
      empty = 0;
      if (text !== state.seen) {
        state.seen = text;
        await onCode(text);
      }
    }
    setTimeout(tick, 100);
  };
  tick();
}

async function onCode(text, read = performance.now()) {
  if (!state.token) {
    const code = PAIRING_TEXT.exec(text.trim());
    if (code) await pair(code[1]);
    else pairingMessage(t("pairing_unknown"));
    return;
  }
  if (state.busy || !state.gate) return;
  if (!TICKET_TEXT.test(text)) {
    // A URL, a bank's VietQR, a pairing code...: nothing the gate should send anywhere.
    showVerdict({ ...failed("invalid"), detail: text.length === 141 ? "damaged" : "not_a_ticket" }, false);
    return;
  }
  state.busy = true;
  try {
    await scan({ secret: text }, read);
  } finally {
    state.busy = false;
  }
}

// --- manual entry (a damaged code): the existing search, then redeem by serial --------------------

async function search(query) {
  const list = $("manual-results");
  list.replaceChildren();
  let found;
  try {
    found = await api(`/api/v1/checkin/search?q=${encodeURIComponent(query)}`, { timeout: 5000 });
  } catch (error) {
    const line = document.createElement("li");
    line.textContent = error instanceof Offline ? t("needs_network") : t("no_ticket_found");
    list.append(line);
    return;
  }
  if (found.items.length === 0) {
    const line = document.createElement("li");
    line.textContent = t("no_ticket_found");
    list.append(line);
  }
  for (const ticket of found.items) {
    const line = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = `${ticket.serial} · ${ticket.tier} · ${t(`status_${ticket.status}`)} · ${t("entries_left", { n: ticket.entries_left })}`;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = t("check_in");
    button.addEventListener("click", () => scan({ serial: ticket.serial }));
    line.append(label, button);
    list.append(line);
  }
}

// --- start ------------------------------------------------------------------------------------------

async function startScanning() {
  show("scanner");
  await startCamera();
  state.gate = (await kv.get("gate")) ?? null;
  state.offset = (await kv.get("offset")) ?? 0;
  const bundle = await kv.get("bundle");
  if (state.gate && bundle) {
    await buildVerifier(bundle);
    renderGate();
  }
  await renderQueue();
  await refresh();
}

async function start() {
  setOnline(navigator.onLine);
  document.querySelectorAll('input[name="mode"]').forEach((input) =>
    input.addEventListener("change", () => (state.mode = input.value)),
  );
  $("pair-form").addEventListener("submit", (event) => {
    event.preventDefault();
    pair($("pair-code").value.trim());
  });
  $("annul").addEventListener("click", annulLast);
  $("verdict").addEventListener("click", () => ($("verdict").hidden = true));
  $("manual-open").addEventListener("click", () => {
    const form = $("manual");
    form.hidden = !form.hidden;
    $("manual-open").setAttribute("aria-expanded", String(!form.hidden));
  });
  $("manual").addEventListener("submit", (event) => {
    event.preventDefault();
    search($("manual-q").value.trim());
  });
  window.addEventListener("online", refresh);
  window.addEventListener("offline", () => setOnline(false));
  setInterval(refresh, REFRESH_MS);
  setInterval(renderAnnul, 5000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker
      .register(document.body.dataset.sw, { scope: document.body.dataset.scope })
      .catch(() => {});
  }
  state.token = (await kv.get("token")) ?? null;
  // The console's pairing QR opens /scan/#pair=CODE in the phone's own camera app.
  const fromLink = PAIRING_TEXT.exec(location.hash);
  if (fromLink && location.hash.startsWith("#pair=")) {
    history.replaceState(null, "", location.pathname + location.search);
    if (!state.token) {
      show("pairing");
      await startCamera();
      await pair(fromLink[1]);
      return;
    }
  }
  if (state.token) await startScanning();
  else {
    show("pairing");
    await startCamera();
  }
}

start();
