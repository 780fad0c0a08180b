// Vehicles page: vehicle_passage events (one per vehicle track) with the plate, the list hit, the driver
// and the snapshot (plates on no list and unknown faces are blurred in it). Plates on no list are shown as
// "unlisted": only their keyed hash is stored.
import { api, el, roleAtLeast } from "./api.js";
import { bindPager, showPageCount } from "./pager.js";

const PAGE = 25;
const state = { offset: 0, bound: false, urls: [] };

export async function showVehicles() {
  if (!state.bound) bindPager("vehicles", state, PAGE, load);
  await load();
}

function plateCell(data) {
  if (data.plate) return el("td", { class: "mono plate" }, data.plate);
  if (data.plate_hash) return el("td", { class: "hint plate", title: "Only a keyed hash is stored" }, "unlisted");
  return el("td", { class: "hint plate" }, "no plate read");
}

function listCell(hit) {
  if (!hit || hit.match === "none") return el("td", { class: "list-hit" }, "–");
  const text = hit.match === "exact" ? `${hit.list} list` : `${hit.list} list (fuzzy: check the plate)`;
  return el("td", { class: "list-hit" }, el("span", { class: `badge ${hit.match}` }, text));
}

function driverCell(event) {
  if (event.subject_name) {
    return el("td", { class: "driver" }, el("strong", {}, event.subject_name));
  }
  return el("td", { class: "driver hint" }, event.data.driver_face ? "unknown" : "not seen");
}

function snapshotCell(event) {
  if (!event.snapshot_url) return el("td", {}, "–");
  if (!roleAtLeast("operator")) return el("td", { class: "hint" }, "operator only");
  const img = el("img", { class: "snap", alt: `Vehicle at ${event.camera}, ${event.start_time.slice(11, 19)}` });
  api(event.snapshot_url.replace(/^\/api\/v1/, ""), { raw: true })
    .then((response) => response.blob())
    .then((blob) => {
      const url = URL.createObjectURL(blob);
      state.urls.push(url);
      img.src = url;
    })
    .catch((error) => img.replaceWith(error.message));
  return el("td", {}, img);
}

function row(event) {
  const data = event.data || {};
  const confidence = data.plate_confidence !== null && data.plate_confidence !== undefined
    ? data.plate_confidence.toFixed(2) : "–";
  return el("tr", { "data-id": event.id },
    el("td", { class: "mono" }, event.start_time.slice(0, 19).replace("T", " ")),
    el("td", {}, event.camera),
    el("td", {}, event.label),
    plateCell(data),
    el("td", { class: "mono" }, confidence),
    listCell(data.list_hit),
    driverCell(event),
    el("td", {}, data.direction || "–"),
    snapshotCell(event));
}

async function load() {
  const params = { type: "vehicle_passage", camera: document.getElementById("vehicles-camera").value,
    limit: PAGE, offset: state.offset };
  const data = await api("/events", { params });
  const select = document.getElementById("vehicles-camera");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "All cameras"),
    ...data.facets.cameras.map((c) => el("option", { value: c, selected: c === chosen }, c)));
  for (const url of state.urls) URL.revokeObjectURL(url);
  state.urls = [];
  const body = document.querySelector("#vehicles-table tbody");
  body.replaceChildren(...data.items.map(row));
  if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: 9 }, "No vehicle passages.")));
  showPageCount("vehicles", state, data, "0 passages");
}

