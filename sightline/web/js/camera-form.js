// Camera form (admin): add or change a camera, with zones drawn on the camera's latest frame. The server
// validates with the same code as `sightline config validate`; its problems are shown next to the form.
// A source URL's password comes back from the server as *** and is kept when sent back unchanged.
import { api, el, toast } from "./api.js";

const FIELD_NAMES = { url: "Source", fps: "Frames per second", classes: "Objects", zones: "Zones",
  face_recognition: "Recognise enrolled people", enabled: "Enabled", min_score: "Minimum score" };
const BLANK = { width: 640, height: 360 };

let form = null; // { card, existing, zones: {name: [[x, y]...]}, points: [[x, y]...], image }

/** Open the form: `existing` is a configured camera from GET /cameras (or null for a new one). */
export async function openCameraForm(existing, onSaved) {
  closeCameraForm();
  const card = build(existing, onSaved);
  document.getElementById("cameras-note").after(card);
  form = { card, existing, points: [], image: null,
    zones: Object.fromEntries(Object.entries(existing?.zones || {}).map(([name, zone]) => [name, zone.points])) };
  renderZones();
  draw();
  card.querySelector(existing ? "#cam-url" : "#cam-name").focus();
  if (existing?.running) {
    await loadFrame(existing.name);
    if (form?.card === card) draw();
  }
}

export function closeCameraForm() {
  form?.card.remove();
  form = null;
}

function field(id, label, input, hint) {
  return [el("label", { for: id }, label, hint ? el("span", { class: "hint" }, ` (${hint})`) : null), input];
}

function build(existing, onSaved) {
  const title = existing ? `Change camera ${existing.name}` : "Add a camera";
  const card = el("form", { class: "card camera-form", id: "camera-form", "aria-labelledby": "camera-form-title",
                             novalidate: true },
    el("h2", { id: "camera-form-title" }, title),
    el("div", { class: "pair" },
      el("div", {},
        ...field("cam-name", "Name", el("input", { id: "cam-name", required: true, maxlength: 64, autocomplete: "off",
          value: existing?.name || "", disabled: Boolean(existing), spellcheck: "false" }), "letters, digits, - or _"),
        ...field("cam-url", "Source", el("input", { id: "cam-url", required: true, autocomplete: "off", spellcheck: "false",
          value: existing?.url || "", placeholder: "rtsp://user:password@10.0.0.5/stream" }),
        "rtsp://, http(s)://, a video file path, or a webcam number; a password shows as ***"),
        ...field("cam-fps", "Frames per second", el("input", { id: "cam-fps", type: "number", min: "0.1", max: "60",
          step: "0.1", value: existing?.fps ?? 5 })),
        ...field("cam-classes", "Objects", el("input", { id: "cam-classes", autocomplete: "off",
          value: (existing?.classes || ["person"]).join(", ") }), "comma-separated, e.g. person, car, dog"),
        el("label", { class: "inline" }, el("input", { type: "checkbox", id: "cam-faces",
          checked: existing ? existing.face_recognition : false }), "Recognise enrolled people"),
        el("label", { class: "inline" }, el("input", { type: "checkbox", id: "cam-enabled",
          checked: existing ? existing.enabled : true }), "Enabled")),
      el("div", {},
        el("span", { class: "label", id: "zones-label" }, "Zones"),
        el("p", { class: "hint small", id: "zone-help" }, "Click the picture to place a zone's corners (or focus it, "
          + "move the cross with the arrow keys and press Enter), name the zone, then press Close zone."),
        el("canvas", { id: "zone-canvas", class: "zone-canvas", width: BLANK.width, height: BLANK.height,
          role: "img", "aria-label": "Camera picture with its zones", "aria-describedby": "zone-help",
          tabindex: "0" }),
        el("div", { class: "row" },
          el("label", { for: "zone-name", class: "sr-only" }, "Zone name"),
          el("input", { id: "zone-name", placeholder: "zone name, e.g. door", autocomplete: "off", maxlength: 64 }),
          el("button", { type: "button", id: "zone-close", class: "secondary" }, "Close zone"),
          el("button", { type: "button", id: "zone-undo", class: "secondary" }, "Undo point")),
        el("ul", { id: "zone-list", class: "zone-list", "aria-label": "Zones" }))),
    el("ul", { id: "cam-problems", class: "error problems", role: "alert", hidden: true }),
    el("div", { class: "row end" },
      el("button", { type: "button", class: "secondary", id: "cam-cancel" }, "Cancel"),
      el("button", { type: "submit", id: "cam-save" }, existing ? "Save changes" : "Add camera")));
  card.querySelector("#zone-canvas").addEventListener("click", addPoint);
  card.querySelector("#zone-canvas").addEventListener("keydown", keyPoint);
  card.querySelector("#zone-close").addEventListener("click", closeZone);
  card.querySelector("#zone-undo").addEventListener("click", () => { form.points.pop(); draw(); });
  card.querySelector("#cam-cancel").addEventListener("click", closeCameraForm);
  card.addEventListener("submit", (event) => { event.preventDefault(); save(onSaved); });
  return card;
}

async function loadFrame(name) {
  try {
    const response = await api(`/cameras/${encodeURIComponent(name)}/latest.jpg`, { raw: true });
    form.image = await createImageBitmap(await response.blob());
  } catch {
    form.image = null; // no frame yet: zones are drawn on a blank picture, in relative coordinates
  }
}

function addPoint(event) {
  const canvas = event.currentTarget;
  const box = canvas.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
  const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
  form.points.push([Number(x.toFixed(3)), Number(y.toFixed(3))]);
  draw();
}

// Keyboard drawing: arrows move a cross (Shift: smaller steps), Enter or Space places a corner there.
function keyPoint(event) {
  const step = event.shiftKey ? 0.01 : 0.05;
  const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
  form.cursor = form.cursor || [0.5, 0.5];
  if (moves[event.key]) {
    const [dx, dy] = moves[event.key];
    form.cursor = [Math.min(1, Math.max(0, form.cursor[0] + dx)), Math.min(1, Math.max(0, form.cursor[1] + dy))];
  } else if (event.key === "Enter" || event.key === " ") {
    form.points.push(form.cursor.map((v) => Number(v.toFixed(3))));
  } else {
    return;
  }
  event.preventDefault();
  draw();
}

function closeZone() {
  const input = form.card.querySelector("#zone-name");
  const name = input.value.trim();
  if (form.points.length < 3) return problems([{ message: "A zone needs at least 3 corners: click the picture." }]);
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name)) {
    return problems([{ message: "Name the zone: 1-64 letters, digits, '-' or '_' (for example door)." }]);
  }
  problems([]);
  form.zones[name] = form.points;
  form.points = [];
  input.value = "";
  renderZones();
  draw();
}

function renderZones() {
  const list = form.card.querySelector("#zone-list");
  list.replaceChildren(...Object.keys(form.zones).map((name) => el("li", { "data-zone": name }, name, " ",
    el("button", { type: "button", class: "link", "aria-label": `Remove zone ${name}`,
      onclick: () => { delete form.zones[name]; renderZones(); draw(); } }, "remove"))));
  if (!list.children.length) list.append(el("li", { class: "hint" }, "No zones: events cover the whole picture."));
}

function draw() {
  const canvas = form.card.querySelector("#zone-canvas");
  const { width, height } = form.image || BLANK;
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  if (form.image) ctx.drawImage(form.image, 0, 0);
  else {
    ctx.fillStyle = "#333";
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = "#ddd";
    ctx.font = "16px system-ui, sans-serif";
    ctx.fillText("No frame yet: zones use relative positions (save, then edit to see the picture)", 16, 28);
  }
  ctx.lineWidth = 3;
  ctx.font = "bold 16px system-ui, sans-serif";
  const path = (points, closed) => {
    ctx.beginPath();
    points.forEach(([x, y], i) => (i ? ctx.lineTo(x * width, y * height) : ctx.moveTo(x * width, y * height)));
    if (closed) ctx.closePath();
  };
  for (const [name, points] of Object.entries(form.zones)) {
    path(points, true);
    ctx.fillStyle = "rgb(11 87 208 / .25)";
    ctx.fill();
    ctx.strokeStyle = "#0b57d0";
    ctx.stroke();
    ctx.fillStyle = "#fff";
    ctx.fillText(name, points[0][0] * width + 6, points[0][1] * height + 20);
  }
  if (form.points.length) {
    path(form.points, false);
    ctx.strokeStyle = "#f9ab00";
    ctx.stroke();
    ctx.fillStyle = "#f9ab00";
    for (const [x, y] of form.points) ctx.fillRect(x * width - 4, y * height - 4, 8, 8);
  }
  if (form.cursor && document.activeElement === canvas) {
    const [cx, cy] = [form.cursor[0] * width, form.cursor[1] * height];
    ctx.strokeStyle = "#f9ab00";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(cx - 12, cy); ctx.lineTo(cx + 12, cy); ctx.moveTo(cx, cy - 12); ctx.lineTo(cx, cy + 12);
    ctx.stroke();
  }
  canvas.dataset.zones = String(Object.keys(form.zones).length);
  canvas.dataset.picture = form.image ? "frame" : "blank";
  canvas.dataset.points = String(form.points.length);
}

function problems(items) {
  const list = form.card.querySelector("#cam-problems");
  list.replaceChildren(...items.map((p) => {
    const key = (p.path || "").split(".").slice(2).join(".");
    const what = FIELD_NAMES[key.split(".")[0]] || key;
    return el("li", { "data-path": p.path || "" }, what ? `${what}: ${p.message}` : p.message);
  }));
  list.hidden = !items.length;
}

function body() {
  const value = (id) => form.card.querySelector(id).value.trim();
  const url = value("#cam-url");
  return {
    url: /^\d+$/.test(url) ? Number(url) : url,
    fps: Number(value("#cam-fps")),
    classes: value("#cam-classes").split(",").map((c) => c.trim()).filter(Boolean),
    face_recognition: { enabled: form.card.querySelector("#cam-faces").checked },
    enabled: form.card.querySelector("#cam-enabled").checked,
    zones: Object.fromEntries(Object.entries(form.zones).map(([name, points]) => [name, { points }])),
  };
}

async function save(onSaved) {
  const button = form.card.querySelector("#cam-save");
  const existing = form.existing;
  button.disabled = true;
  problems([]);
  try {
    const saved = existing
      ? await api(`/cameras/${encodeURIComponent(existing.name)}`, { method: "PUT", json: body() })
      : await api("/cameras", { method: "POST", json: { name: value(form.card, "#cam-name"), ...body() } });
    closeCameraForm();
    const warned = (saved.warnings || []).map((w) => ` Warning: ${w.replace(/^cameras\.[^.]+\./, "")}.`).join("");
    toast((existing ? `Camera ${saved.name} changed: it restarts with the new settings.`
      : `Camera ${saved.name} added${saved.running ? " and started" : ""}.`) + warned);
    await onSaved();
  } catch (error) {
    if (error.problems?.length) problems(error.problems);
    else problems([{ message: error.message }]);
    button.disabled = false;
  }
}

function value(card, id) {
  return card.querySelector(id).value.trim();
}
