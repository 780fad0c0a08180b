// Review page: one card per track (a person or object passing a camera), Frigate-style: the best snapshot,
// the time span, a frame strip across the track (every face blurred), who was recognised, and "Mark reviewed"
// (kept on the server). Unreviewed items first.
import { api, el, roleAtLeast, toast } from "./api.js";
import { bindPager, showPageCount } from "./pager.js";

const PAGE = 12;
const state = { offset: 0, bound: false, urls: [] };
const TYPE_NAMES = {
  track_start: "track started", track_end: "track ended", person_seen: "recognised", unknown_person: "unknown face",
  zone_enter: "entered zone", zone_exit: "left zone", plate_read: "plate read", vehicle_passage: "vehicle passage",
};

export async function showReview() {
  if (!state.bound) bindPager("review", state, PAGE, load);
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

function time(iso) {
  return iso.slice(11, 19);
}

function span(item) {
  const day = item.start.slice(0, 10);
  const length = item.duration_s >= 1 ? ` (${Math.round(item.duration_s)}\u00a0s)` : "";
  return `${day} ${time(item.start)}–${time(item.end)} UTC${length}`;
}

function title(item) {
  if (item.people.length) return item.people.map((p) => p.name).join(", ");
  if (item.unknown_face) return "Unknown person";
  return item.label.charAt(0).toUpperCase() + item.label.slice(1);
}

async function snapshot(item, figure) {
  if (!item.snapshot_event_id) return figure.append(el("div", { class: "hint snap-none" }, "no snapshot"));
  if (!roleAtLeast("operator")) return figure.append(el("div", { class: "hint snap-none" }, "snapshot: operator only"));
  const img = el("img", { class: "review-snap", alt: `Snapshot: ${title(item)} on ${item.camera}` });
  figure.append(img);
  try {
    const response = await api(`/events/${item.snapshot_event_id}/snapshot`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    state.urls.push(url);
    img.src = url;
  } catch (error) {
    img.replaceWith(el("div", { class: "hint snap-none" }, error.message));
  }
}

// A few frames across the track's life (every face blurred by the server), scrolled sideways when wide.
async function strip(item, figure) {
  if (!item.strip_event_id || !roleAtLeast("operator")) return;
  const img = el("img", { class: "review-strip", alt: `Frames across the track: ${title(item)} on ${item.camera}` });
  figure.append(el("div", { class: "strip-wrap", tabindex: "0", "aria-label": "Frame strip" }, img));
  try {
    const response = await api(`/review/strip/${item.strip_event_id}`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    state.urls.push(url);
    img.src = url;
  } catch (error) {
    img.replaceWith(el("span", { class: "hint small" }, `frame strip: ${error.message}`));
  }
}

function markButton(item, card) {
  const button = el("button", { type: "button", class: item.reviewed ? "secondary" : "",
    "aria-label": `${item.reviewed ? "Mark not reviewed" : "Mark reviewed"}: ${title(item)} at ${time(item.start)}` },
  item.reviewed ? "Mark not reviewed" : "Mark reviewed");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("/review/reviewed", { method: "POST", json: { event_ids: item.event_ids, reviewed: !item.reviewed } });
      item.reviewed = !item.reviewed;
      card.dataset.reviewed = String(item.reviewed);
      const hide = document.getElementById("review-state").value === String(!item.reviewed);
      if (hide) card.remove();
      else button.replaceWith(markButton(item, card));
    } catch (error) {
      toast(error.message);
      button.disabled = false;
    }
  });
  return button;
}

// "Not this person" on a named item: the recognition's snapshot face becomes a negative of that subject.
function notThisPerson(person) {
  const button = el("button", { type: "button", class: "secondary not-this-person",
    "aria-label": `The person in this item is not ${person.name}` }, "Not this person");
  button.addEventListener("click", async () => {
    if (!confirm(`Record that this was not ${person.name}? They will no longer be matched to this face.`)) return;
    try {
      await api(`/subjects/${encodeURIComponent(person.subject_id)}/negatives`,
        { method: "POST", json: { event_id: person.event_id } });
      button.replaceWith(el("span", { class: "hint" }, `recorded: not ${person.name}`));
    } catch (error) {
      toast(error.message);
    }
  });
  return button;
}

function card(item) {
  const figure = el("div", { class: "review-figure" });
  snapshot(item, figure).then(() => strip(item, figure));
  const operator = roleAtLeast("operator");
  const people = item.people.map((p) => el("li", {}, el("strong", {}, p.name),
    p.score !== null ? ` (${p.score.toFixed(2)})` : "", operator ? [" ", notThisPerson(p)] : null));
  const body = el("article", { class: "card review-item", "data-item": item.id, "data-reviewed": String(item.reviewed),
                               "aria-label": `${title(item)} on ${item.camera} at ${time(item.start)}` },
    figure,
    el("div", { class: "review-text" },
      el("h2", {}, title(item)),
      el("p", { class: "small" }, `${item.camera} · ${item.label}${item.track_id !== null ? ` · track #${item.track_id}` : ""}`),
      el("p", { class: "small mono" }, span(item)),
      people.length ? el("ul", { class: "review-people" }, people) : null,
      el("p", { class: "small hint" }, item.types.map((t) => TYPE_NAMES[t] || t).join(", ")
        + (item.zones.length ? ` · zones: ${item.zones.join(", ")}` : "") + ` · ${item.events} event(s)`),
      operator ? el("div", { class: "row" }) : null));
  body.querySelector(".review-text .row")?.append(markButton(item, body));
  return body;
}

async function load() {
  const params = {
    camera: document.getElementById("review-camera").value,
    zone: document.getElementById("review-zone").value,
    subject_id: document.getElementById("review-person").value,
    since: document.getElementById("review-since").value,
    until: document.getElementById("review-until").value,
    reviewed: document.getElementById("review-state").value,
    limit: PAGE, offset: state.offset,
  };
  const data = await api("/review", { params });
  fillSelect("review-camera", data.facets.cameras, "All cameras");
  fillSelect("review-zone", data.facets.zones, "Any zone");
  fillSelect("review-person", data.facets.subjects, "Anyone", (s) => [s.id, s.name || s.id.slice(0, 12)]);
  for (const url of state.urls) URL.revokeObjectURL(url);
  state.urls = [];
  const list = document.getElementById("review-items");
  list.replaceChildren(...data.items.map(card));
  if (!data.items.length) list.append(el("p", { class: "card" }, "Nothing to review here."));
  document.getElementById("review-note").textContent = (data.truncated
    ? "Only the most recent events were grouped; narrow the dates to see older ones. " : "")
    + (roleAtLeast("operator") ? "Faces of people not enrolled are blurred in snapshots." : "Snapshots need an operator key.");
  showPageCount("review", state, data, "0 items");
}

