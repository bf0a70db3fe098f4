/* Hội An tourist pages: visited pages and their audio stay available without a signal. */
"use strict";
const STATIC = "hoian-static-{{ version }}";
const PAGES = "hoian-pages";
const MEDIA = "hoian-media";
const TILES = "hoian-tiles";
const ASSETS = {{ assets|tojson }};
// The map tiles' server ("" when they come from this one), and how many tiles are kept: the
// old town at the zooms a tourist uses is a few hundred.
const TILE_ORIGIN = {{ tiles|tojson }};
const TILE_LIMIT = 600;
// Audio and captions kept on the phone: the oldest kept file goes first beyond this many
// (about 30 guides, well under what browsers allow a site).
const MEDIA_LIMIT = 120;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("hoian-static-") && name !== STATIC) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// A 206 slice of a kept file, for the Range requests media elements make.
async function slice(response, range) {
  const match = /^bytes=(\d*)-(\d*)$/.exec(range || "");
  if (!match) return response;
  const body = await response.arrayBuffer();
  const size = body.byteLength;
  let start = match[1] === "" ? Math.max(0, size - Number(match[2])) : Number(match[1]);
  let end = match[1] !== "" && match[2] !== "" ? Math.min(Number(match[2]), size - 1) : size - 1;
  if (start >= size || start > end) {
    return new Response(null, { status: 416, headers: { "Content-Range": "bytes */" + size } });
  }
  return new Response(body.slice(start, end + 1), {
    status: 206,
    headers: {
      "Content-Type": response.headers.get("Content-Type") || "application/octet-stream",
      "Content-Length": String(end - start + 1),
      "Content-Range": "bytes " + start + "-" + end + "/" + size,
      "Accept-Ranges": "bytes",
    },
  });
}

async function media(event) {
  const request = event.request;
  const range = request.headers.get("Range");
  const cache = await caches.open(MEDIA);
  const kept = await cache.match(request.url);
  if (kept) return slice(kept, range);
  if (range && !/^bytes=0-$/.test(range)) return fetch(request);
  // Content-addressed and immutable: fetch the whole file once, keep it, and play it.
  const response = await fetch(request.url);
  if (response.ok) event.waitUntil(cache.put(request.url, response.clone()).then(() => trim(cache)));
  return response;
}

async function trim(cache, limit = MEDIA_LIMIT) {
  const keys = await cache.keys(); // oldest first
  for (const key of keys.slice(0, Math.max(0, keys.length - limit))) await cache.delete(key);
}

// A tile shown once is kept: the network first (tiles change), the kept one without a signal.
async function tile(event) {
  const cache = await caches.open(TILES);
  try {
    const response = await fetch(event.request);
    if (response.ok) event.waitUntil(cache.put(event.request.url, response.clone()).then(() => trim(cache, TILE_LIMIT)));
    return response;
  } catch (error) {
    const kept = await cache.match(event.request.url);
    if (kept) return kept;
    throw error;
  }
}

// The pages' scripts and styles: content-hashed, so a kept copy is always right.
async function asset(event) {
  const kept = await caches.match(event.request, { ignoreVary: true });
  if (kept) return kept;
  const response = await fetch(event.request);
  if (response.ok) {
    const copy = response.clone();
    event.waitUntil(caches.open(STATIC).then((cache) => cache.put(event.request, copy)));
  }
  return response;
}

const PAGE_PATHS = /^\/(s\/|tours\/|$)/;

async function page(request) {
  const cache = await caches.open(PAGES);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request.url, response.clone());
    return response;
  } catch (error) {
    const kept = (await cache.match(request.url, { ignoreVary: true }))
      || (await cache.match(request.url, { ignoreVary: true, ignoreSearch: true }));
    if (kept) return kept;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET") return;
  if (url.origin !== self.location.origin) {
    if (TILE_ORIGIN && url.origin === TILE_ORIGIN) event.respondWith(tile(event));
    return;
  }
  if (url.pathname.startsWith("/media/")) {
    event.respondWith(media(event));
  } else if (request.mode === "navigate" && PAGE_PATHS.test(url.pathname)) {
    event.respondWith(page(request));
  } else if (url.pathname.startsWith("/s/static/")) {
    event.respondWith(asset(event));
  } else if (!TILE_ORIGIN && /\/\d+\/\d+\/\d+\.(png|jpg|webp)$/.test(url.pathname)) {
    event.respondWith(tile(event));
  }
});
