// "Try it": upload a photo, draw each face's box and name (identify for operators, detect for viewers).
import { api, el, roleAtLeast, toast } from "./api.js";
import { oversize } from "./imagesize.js";

let bound = false;
let current = 0;  // the latest run; an older one that finishes late changes nothing

export async function showTry() {
  const identify = roleAtLeast("operator");
  document.getElementById("try-mode").textContent = identify
    ? "Faces are matched against the enrolled gallery; anyone not enrolled stays unknown."
    : "Your viewer key can detect faces; identifying them needs an operator key.";
  if (identify) showOperatingPoint();
  if (!bound) {
    bound = true;
    document.getElementById("try-file").addEventListener("change", (event) => {
      const file = event.target.files[0];
      if (file) run(file);
    });
  }
}

// The open-set operating point in words: the target stranger rate and the threshold it implies today.
async function showOperatingPoint() {
  const line = document.getElementById("try-point");
  line.textContent = "";
  try {
    const point = await api("/calibration");
    const colour = (point.conditions || {}).colour || Object.values(point.conditions || {})[0];
    line.textContent = point.open_set && colour
      ? `Operating point: at most ${point.target} may be named by mistake — a match needs ${colour.threshold.toFixed(3)} `
        + `with ${point.templates} enrolled templates (stricter for grey or low-resolution faces).`
      : "Operating point: the calibrated 1:1 threshold (no open-set curve for this face backend).";
  } catch (error) {
    line.textContent = "";  // a viewer or an older server: the page works without the line
  }
}

async function run(file) {
  const mine = ++current;
  const status = document.getElementById("try-status");
  const list = document.getElementById("try-results");
  const canvas = document.getElementById("try-canvas");
  list.replaceChildren();
  canvas.width = 0;  // the previous photo and its boxes go at once
  canvas.height = 0;
  canvas.setAttribute("aria-label", "No photo yet");
  status.className = "status";
  status.textContent = "Looking…";
  const fail = (message) => {
    if (mine !== current) return;
    status.textContent = message;
    status.className = "status error";
  };
  try {
    const tooBig = await oversize(file);
    if (tooBig) return fail(tooBig);
    const form = new FormData();
    form.append("image", file, file.name);
    const identify = roleAtLeast("operator");
    const result = await api(identify ? "/faces/identify" : "/faces/detect", { method: "POST", form });
    const faces = result.results[0].faces;
    let bitmap = null;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch { /* the server read it but this browser cannot draw it: list the faces only */ }
    if (mine !== current) return;
    if (bitmap) draw(bitmap, faces, identify);
    show(file, faces, identify, status, list, bitmap !== null);
  } catch (error) {
    fail(error.message || "That photo could not be analysed.");
  }
}

function show(file, faces, identify, status, list, drawn) {
  const named = faces.filter((f) => f.name);
  status.textContent = `${faces.length} face(s) found` + (identify ? `, ${named.length} recognised.` : ".")
    + (drawn ? "" : " (This browser cannot display the photo.)");
  faces.forEach((face, index) => {
    const label = identify ? (face.name ? `${face.name} (${face.score.toFixed(3)} ≥ ${face.threshold.toFixed(3)})`
                                        : "unknown")
                           : `face, detection score ${face.score.toFixed(2)}`;
    const item = el("li", {}, `Face ${index + 1}: ${label}`);
    if (identify && face.name) {
      item.title = `similarity ${face.score.toFixed(3)}; a match needs at least ${face.threshold.toFixed(3)}`;
      item.append(" ", notThisPerson(file, face, index));
    }
    list.append(item);
  });
}

// "Not this person": the face becomes a negative example of the subject it was wrongly matched to.
function notThisPerson(file, face, index) {
  const button = el("button", { type: "button", class: "secondary not-this-person",
    "aria-label": `Face ${index + 1} is not ${face.name}` }, "Not this person");
  button.addEventListener("click", async () => {
    if (!confirm(`Record that face ${index + 1} is not ${face.name}? It will no longer be matched to them.`)) return;
    const form = new FormData();
    form.append("image", file, file.name);
    form.append("box", face.box.join(","));
    try {
      await api(`/subjects/${encodeURIComponent(face.decision)}/negatives`, { method: "POST", form });
      button.replaceWith(el("span", { class: "hint" }, "recorded: not this person"));
    } catch (error) {
      toast(error.message);
    }
  });
  return button;
}

function draw(bitmap, faces, identify) {
  const canvas = document.getElementById("try-canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const side = Math.max(bitmap.width, bitmap.height);  // the canvas is shown scaled to fit the page
  const line = Math.max(2, Math.round(side / 250));
  const fontSize = Math.max(14, Math.round(side / 32));
  ctx.font = `600 ${fontSize}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  for (const face of faces) {
    const [x1, y1, x2, y2] = face.box;
    const known = identify && face.name;
    const color = identify ? (known ? "#1e8e3e" : "#f29900") : "#1a73e8";
    ctx.lineWidth = line;
    ctx.strokeStyle = color;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = identify ? (known ? face.name : "unknown") : face.score.toFixed(2);
    const width = ctx.measureText(text).width + 10;
    const top = Math.max(fontSize + 6, y1);
    ctx.fillStyle = color;
    ctx.fillRect(x1 - line / 2, top - fontSize - 6, width, fontSize + 6);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x1 + 5, top - 3);
  }
  canvas.setAttribute("aria-label", `Photo with ${faces.length} face(s) outlined`);
}
