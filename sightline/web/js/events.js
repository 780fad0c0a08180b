// Events page: camera events filtered by camera, object, type, person and date, paged newest first.
// Snapshot thumbnails are fetched with the API key (operator role) and shown from blob: URLs.
import { api, el, roleAtLeast, toast } from "./api.js";
import { bindPager, showPageCount } from "./pager.js";

const PAGE = 25;
const state = { offset: 0, bound: false, urls: [] };
const TYPE_NAMES = {
  track_start: "Track started", track_end: "Track ended", person_seen: "Enrolled person seen",
  unknown_person: "Unknown person", zone_enter: "Entered zone", zone_exit: "Left zone", plate_read: "Plate read",
};

export async function showEvents() {
  if (!state.bound) bindPager("events", state, PAGE, load);
  await load();
}

function fillSelect(id, values, allLabel, describe = (v) => [v, v]) {
  const select = document.getElementById(id);
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, allLabel), ...values.map((v) => {
    const [value, text] = describe(v);
    return el("option", { value, selected: value === chosen }, text);
  }));
}

function releaseThumbnails() {
  for (const url of state.urls) URL.revokeObjectURL(url);
  state.urls = [];
}

async function snapshotUrl(event) {
  const response = await api(event.snapshot_url.replace(/^\/api\/v1/, ""), { raw: true });
  const url = URL.createObjectURL(await response.blob());
  state.urls.push(url);
  return url;
}

function snapshotCell(event) {
  if (!event.snapshot_url) return el("td", {}, "–");
  if (!roleAtLeast("operator")) return el("td", { class: "hint" }, "operator only");
  const label = `${TYPE_NAMES[event.type] || event.type} on ${event.camera} at ${event.start_time.slice(11, 19)}`;
  const img = el("img", { class: "snap", alt: `Snapshot: ${label}` });
  const button = el("button", { type: "button", class: "thumb", "aria-label": `Enlarge snapshot: ${label}` }, img);
  snapshotUrl(event).then((url) => {
    img.src = url;
    button.addEventListener("click", () => {
      const large = document.getElementById("snapshot-large");
      large.src = url;
      large.alt = `Snapshot: ${label}`;
      document.getElementById("snapshot-title").textContent = label;
      document.getElementById("snapshot-dialog").showModal();
    });
  }).catch((error) => { button.replaceWith(error.message); });
  return el("td", {}, button);
}

// "Not this person" on a person_seen event: its snapshot's face becomes a negative example of the subject.
function notThisPerson(event) {
  const button = el("button", { type: "button", class: "secondary not-this-person",
    "aria-label": `The person in this event is not ${event.subject_name}` }, "Not this person");
  button.addEventListener("click", async () => {
    if (!confirm(`Record that this was not ${event.subject_name}? They will no longer be matched to this face.`)) return;
    try {
      await api(`/subjects/${encodeURIComponent(event.subject_id)}/negatives`,
        { method: "POST", json: { event_id: event.id } });
      button.replaceWith(el("span", { class: "hint" }, "recorded"));
    } catch (error) {
      toast(error.message);
    }
  });
  return button;
}

function row(event) {
  const correctable = event.type === "person_seen" && event.snapshot_url && roleAtLeast("operator");
  const who = event.subject_name
    ? el("span", {}, el("strong", {}, event.subject_name, event.score !== null ? ` (${event.score.toFixed(2)})` : ""),
      correctable ? [" ", notThisPerson(event)] : null)
    : (event.type === "unknown_person" ? el("span", { class: "hint" }, "not enrolled") : "–");
  const details = [event.track_id !== null ? `track #${event.track_id}` : null, event.zone ? `zone ${event.zone}` : null,
    event.end_time ? `ended ${event.end_time.slice(11, 19)}` : null].filter(Boolean).join(", ");
  return el("tr", { "data-type": event.type, "data-id": event.id },
    el("td", { class: "mono" }, event.start_time.slice(0, 19).replace("T", " ")),
    el("td", {}, event.camera),
    el("td", {}, el("span", { class: `badge ${event.type}` }, TYPE_NAMES[event.type] || event.type)),
    el("td", {}, event.label),
    el("td", {}, who),
    el("td", { class: "hint" }, details || "–"),
    snapshotCell(event));
}

async function load() {
  const params = {
    camera: document.getElementById("events-camera").value,
    label: document.getElementById("events-label").value,
    type: document.getElementById("events-type").value,
    subject_id: document.getElementById("events-person").value,
    since: document.getElementById("events-since").value,
    until: document.getElementById("events-until").value,
    limit: PAGE, offset: state.offset,
  };
  const data = await api("/events", { params });
  fillSelect("events-camera", data.facets.cameras, "All cameras");
  fillSelect("events-label", data.facets.labels, "All objects");
  fillSelect("events-type", data.facets.types, "All types", (t) => [t, TYPE_NAMES[t] || t]);
  fillSelect("events-person", data.facets.subjects, "Anyone", (s) => [s.id, s.name || s.id.slice(0, 12)]);
  releaseThumbnails();
  const body = document.querySelector("#events-table tbody");
  body.replaceChildren(...data.items.map(row));
  if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: 7 }, "No events match.")));
  document.getElementById("events-note").textContent = roleAtLeast("operator")
    ? "Snapshots show enrolled people; everyone else's face is blurred."
    : "Snapshots need an operator key.";
  showPageCount("events", state, data, "0 events");
}

