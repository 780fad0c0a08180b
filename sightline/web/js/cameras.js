// Cameras page: a status card per configured camera (refreshed every 2 s; a warning when one runs below its
// target rate); admins add, change, disable and remove cameras (camera-form.js), applied without a restart.
// And a live view. The live view reads the
// MJPEG stream with fetch (so the API key travels in the Authorization header, never in a URL) and draws
// each JPEG on a canvas. Unknown faces arrive already blurred by the server.
import { api, el, roleAtLeast, session, toast } from "./api.js";
import { closeCameraForm, openCameraForm } from "./camera-form.js";

const REFRESH_MS = 2000;
let timer = null;
let live = null; // { name, controller }

export async function showCameras() {
  document.getElementById("live-stop").onclick = stopLive;
  closeCameraForm();
  await refresh();
  clearInterval(timer);
  timer = setInterval(() => {
    if (location.hash.startsWith("#/cameras")) refresh().catch(() => {});
    else clearInterval(timer);
  }, REFRESH_MS);
}

function fmt(value, digits = 1) {
  return typeof value === "number" ? value.toFixed(digits) : "–";
}

function actions(entry, camera) {
  const out = [];
  if (camera.has_frame && roleAtLeast("operator")) {
    out.push(el("button", { type: "button", class: "secondary", "aria-label": `Watch ${entry.name} live`,
      onclick: () => startLive(entry.name) }, "Watch live"));
  } else if (!roleAtLeast("operator")) {
    out.push(el("p", { class: "hint" }, "Live view needs an operator key."));
  }
  if (editable && entry.source === "ui") {
    out.push(el("button", { type: "button", class: "secondary", "aria-label": `Change ${entry.name}`,
      onclick: () => openCameraForm(entry, refresh) }, "Change"));
    out.push(el("button", { type: "button", class: "secondary",
      "aria-label": `${entry.enabled ? "Disable" : "Enable"} ${entry.name}`,
      onclick: () => setEnabled(entry, !entry.enabled) }, entry.enabled ? "Disable" : "Enable"));
    out.push(el("button", { type: "button", class: "secondary", "aria-label": `Remove ${entry.name}`,
      onclick: () => remove(entry) }, "Remove"));
  }
  return out.length ? el("div", { class: "row actions" }, out) : null;
}

async function setEnabled(entry, enabled) {
  try {
    await api(`/cameras/${encodeURIComponent(entry.name)}`, { method: "PUT", json: { enabled } });
    await refresh();
  } catch (error) {
    toast(error.message);
  }
}

async function remove(entry) {
  if (!confirm(`Remove camera ${entry.name}? It stops now; its events stay until retention removes them.`)) return;
  try {
    await api(`/cameras/${encodeURIComponent(entry.name)}`, { method: "DELETE", raw: true });
    await refresh();
  } catch (error) {
    toast(error.message);
  }
}

function card(entry, camera) {
  const running = Boolean(camera);
  camera = camera || { status: entry.enabled ? "starting" : "disabled", frames: 0, restarts: 0, events: {} };
  const stages = camera.stage_ms_per_frame || {};
  const ms = ["detect", "face", "identify"].filter((s) => s in stages).map((s) => `${s} ${fmt(stages[s])}`).join(", ");
  const events = Object.entries(camera.events || {}).map(([type, count]) => `${type} ${count}`).join(", ");
  const zones = Object.keys(entry.zones);
  const facts = [
    ["Source", `${entry.kind}: ${entry.url}`],
    ["Set up", entry.source === "yaml" ? "in cameras.yaml (edit the file)"
      : `in the UI${entry.updated_by ? ` (last change by ${entry.updated_by})` : ""}`],
    ["Objects", entry.classes.join(", ") + (zones.length ? ` · zones: ${zones.join(", ")}` : "")],
  ];
  if (running) {
    facts.push(
      ["Rate", `${fmt(camera.fps)} fps now, ${fmt(camera.fps_average)} average (target ${fmt(camera.fps_target)})`],
      ["Frames", `${camera.frames} (${Math.round((camera.skipped_fraction || 0) * 100)}% skipped as still)`],
      ["Stage ms/frame", ms || "–"],
      ["Events", events || "none yet"],
      ["Restarts", String(camera.restarts)]);
    if (camera.runner === "ray") {
      facts.push(["Node", camera.node_address ? `${camera.node_address} (${String(camera.node_id).slice(0, 8)})`
        : "being placed on the cluster"]);
    }
  } else {
    facts.push(["Rate", `target ${fmt(entry.fps)} fps`]);
  }
  return el("article", { class: "card camera-card", "data-camera": entry.name, "data-source": entry.source,
                         "aria-labelledby": `cam-${entry.name}` },
    el("div", { class: "row" }, el("h2", { id: `cam-${entry.name}` }, entry.name),
      el("span", { class: `badge status-${camera.status}`, "data-status": camera.status }, camera.status)),
    camera.warning ? el("p", { class: "warning small", "data-warning": "fps" }, `Below target: ${camera.warning}`) : null,
    el("dl", { class: "facts" }, ...facts.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)])),
    camera.last_error ? el("p", { class: "error small" }, `Last error: ${camera.last_error}`) : null,
    actions(entry, camera));
}

let editable = false;

async function refresh() {
  const data = await api("/cameras");
  editable = data.editable;
  const note = document.getElementById("cameras-note");
  const cards = document.getElementById("camera-cards");
  const add = editable ? el("button", { type: "button", id: "camera-add", class: "secondary",
    onclick: () => openCameraForm(null, refresh) }, "Add camera") : "";
  if (!data.enabled) {
    note.replaceChildren(editable ? "No cameras yet. " : "No cameras yet: an admin adds them here (or starts the "
      + "server with `sightline serve --cameras cameras.yaml`).", add);
    cards.replaceChildren();
    return;
  }
  const retention = data.retention && data.retention.last_run
    ? ` Retention last ran ${data.retention.last_run.slice(0, 19).replace("T", " ")} UTC.` : "";
  const disabled = data.disabled.length ? ` Disabled: ${data.disabled.join(", ")}.` : "";
  const slow = data.cameras.filter((c) => c.warning).map((c) => c.name);
  note.replaceChildren(`${data.cameras.length} camera(s) running; ${data.events.stored} event(s) stored.${retention}`
    + `${disabled}${slow.length ? ` Below target rate: ${slow.join(", ")}.` : ""} `, add);
  const focused = cards.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
  const running = Object.fromEntries(data.cameras.map((c) => [c.name, c]));
  cards.replaceChildren(...data.configured.map((entry) => card(entry, running[entry.name])));
  if (focused) cards.querySelector(`[aria-label="${CSS.escape(focused)}"]`)?.focus(); // keep keyboard focus
}

function indexOf(bytes, pattern, from = 0) {
  outer: for (let i = from; i <= bytes.length - pattern.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

const HEADER_END = new Uint8Array([13, 10, 13, 10]);

async function startLive(name) {
  stopLive();
  const controller = new AbortController();
  live = { name, controller };
  const box = document.getElementById("live-card");
  const canvas = document.getElementById("live-canvas");
  const status = document.getElementById("live-status");
  box.hidden = false;
  canvas.dataset.frames = "0";
  canvas.setAttribute("aria-label", `Live view of ${name} (faces of people not enrolled are blurred)`);
  document.getElementById("live-title").textContent = `Live view: ${name}`;
  status.textContent = "Connecting…";
  try {
    const response = await fetch(`/api/v1/cameras/${encodeURIComponent(name)}/mjpeg`, {
      headers: { Authorization: `Bearer ${session.token}` }, signal: controller.signal });
    if (!response.ok) throw new Error(`live view refused (${response.status})`);
    const reader = response.body.getReader();
    let buffer = new Uint8Array(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer);
      joined.set(value, buffer.length);
      buffer = joined;
      for (;;) {
        const end = indexOf(buffer, HEADER_END);
        if (end < 0) break;
        const head = new TextDecoder().decode(buffer.subarray(0, end));
        const length = Number((/Content-Length:\s*(\d+)/i.exec(head) || [])[1]);
        if (!length) { buffer = buffer.subarray(end + 4); continue; }
        if (buffer.length < end + 4 + length) break;
        const jpeg = buffer.slice(end + 4, end + 4 + length);
        buffer = buffer.slice(end + 4 + length);
        const bitmap = await createImageBitmap(new Blob([jpeg], { type: "image/jpeg" }));
        canvas.width = bitmap.width;
        canvas.height = bitmap.height;
        canvas.getContext("2d").drawImage(bitmap, 0, 0);
        bitmap.close();
        canvas.dataset.frames = String(Number(canvas.dataset.frames) + 1);
        const seq = (/X-Frame-Seq:\s*(\d+)/i.exec(head) || [])[1];
        status.textContent = `Frame ${seq || "?"} (${new Date().toISOString().slice(11, 19)} UTC)`;
      }
    }
    status.textContent = "Live view ended.";
  } catch (error) {
    if (error.name !== "AbortError") {
      status.textContent = `Live view stopped: ${error.message}`;
      toast(error.message);
    }
  }
}

export function stopLive() {
  if (live) {
    live.controller.abort();
    live = null;
  }
  const box = document.getElementById("live-card");
  if (box) box.hidden = true;
}
