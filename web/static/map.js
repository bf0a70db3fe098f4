/* The map on the map page and a tour's page, drawn from the list the server rendered: the page
   is that list without this script, without Leaflet or without tiles. */
(() => {
  "use strict";
  const box = document.getElementById("map");
  if (!box) return;
  if (!window.L) { box.removeAttribute("data-reserve"); return; }  // Leaflet did not load
  const places = Array.from(document.querySelectorAll("[data-place]"));
  const point = (el) => [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
  box.hidden = false;
  const map = L.map(box, { scrollWheelZoom: false, zoomSnap: 0.5 });
  map.attributionControl.setPrefix(false);
  L.tileLayer(box.dataset.tiles, {
    attribution: box.dataset.attribution, maxZoom: 19, crossOrigin: "anonymous",
  }).addTo(map);
  const bounds = [];
  const route = box.hasAttribute("data-route");
  places.forEach((el, index) => {
    const link = el.querySelector("a[href]");
    const at = point(el);
    bounds.push(at);
    const marker = L.circleMarker(at, {
      radius: route ? 11 : 8, color: "#4a1b0a", weight: 2, fillColor: "#c4341c", fillOpacity: 0.9,
    }).addTo(map);
    const name = link ? link.textContent.trim() : "";
    marker.bindTooltip(route ? (index + 1) + ". " + name : name);
    // A marker opens its place's page (the list next to the map is the keyboard's way in).
    if (link) marker.on("click", () => { location.href = link.href; });
  });
  if (route && bounds.length > 1) {
    L.polyline(bounds, { color: "#0b57a4", weight: 4, opacity: 0.8 }).addTo(map);
  }
  document.querySelectorAll("[data-tour]").forEach((el) => {
    const line = (el.dataset.route || "").split(";").filter(Boolean).map((p) => p.split(",").map(Number));
    if (line.length > 1) L.polyline(line, { color: "#0b57a4", weight: 3, opacity: 0.6, dashArray: "6 6" }).addTo(map);
  });
  if (box.dataset.position === "you" && box.dataset.origin) {
    const you = box.dataset.origin.split(",").map(Number);
    L.circleMarker(you, { radius: 7, color: "#fff", weight: 3, fillColor: "#0b57a4", fillOpacity: 1 }).addTo(map);
    bounds.push(you);
  }
  if (bounds.length) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
  else map.setView([15.8771, 108.3261], 15);

  // "Near me": the position is asked for only when the tourist taps, then the server sorts the
  // list by the walk from there (the same GET form a phone without this script sends).
  const button = document.getElementById("near-me");
  const form = button && button.form;
  const status = document.getElementById("position");
  if (!button || !form) return;
  if (!navigator.geolocation) { button.removeAttribute("data-reserve"); return; }
  button.hidden = false;
  button.addEventListener("click", () => {
    if (status) status.textContent = button.dataset.locating;
    navigator.geolocation.getCurrentPosition((where) => {
      form.elements.near.value = where.coords.latitude.toFixed(5) + "," + where.coords.longitude.toFixed(5);
      form.submit();
    }, () => {
      if (status) status.textContent = button.dataset.failed;
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
})();
