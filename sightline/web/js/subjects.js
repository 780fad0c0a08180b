// Subjects page: list/search/page, enrol with consent fields (drag-and-drop or camera), erase, export.
import { api, el, roleAtLeast, toast } from "./api.js";
import { checkPhoto, reasonText, templatesRow } from "./subjectphotos.js";

const PAGE = 20;
const state = { offset: 0, q: "", photos: [], checks: new WeakMap(), stream: null, bound: false };

export async function showSubjects() {
  if (!state.bound) bind();
  document.getElementById("enrol-form").hidden = !roleAtLeast("operator");
  await load();
}

async function load() {
  const data = await api("/subjects", { params: { q: state.q, limit: PAGE, offset: state.offset } });
  const body = document.querySelector("#subjects-table tbody");
  body.replaceChildren(...data.items.map(row));
  if (!data.items.length) {
    body.append(el("tr", {}, el("td", { colspan: 6 }, state.q ? "No subject matches." : "Nobody is enrolled yet.")));
  }
  const last = Math.min(state.offset + data.items.length, data.total);
  document.getElementById("subjects-count").textContent =
    data.total ? `${state.offset + 1}–${last} of ${data.total}` : "0 subjects";
  document.getElementById("subjects-prev").disabled = state.offset === 0;
  document.getElementById("subjects-next").disabled = last >= data.total;
}

function row(subject) {
  const actions = el("td", { class: "actions" });
  if (roleAtLeast("operator")) {
    actions.append(el("button", { type: "button", class: "secondary", "aria-label": `Photos of ${subject.name}`,
                                  "aria-expanded": "false", onclick: (event) => togglePhotos(subject, event.target) },
                      "Photos"), " ");
    actions.append(el("button", { type: "button", class: "secondary", "aria-label": `Export ${subject.name}`,
                                  onclick: () => exportSubject(subject) }, "Export"), " ");
  }
  if (roleAtLeast("admin")) {
    actions.append(el("button", { type: "button", class: "danger", "aria-label": `Erase ${subject.name}`,
                                  onclick: () => erase(subject) }, "Erase"));
  }
  return el("tr", { "data-subject-id": subject.id },
    el("td", {}, el("strong", {}, subject.name), el("div", { class: "mono", title: "subject id" }, subject.id.slice(0, 12))),
    el("td", {}, subject.legal_basis.replaceAll("_", " "), subject.evidence ? el("div", { class: "hint" }, subject.evidence) : null),
    el("td", {}, subject.purpose),
    el("td", {}, subject.retain_until.slice(0, 10)),
    el("td", {}, String(subject.templates)),
    actions);
}

async function togglePhotos(subject, button) {
  const open = document.querySelector(`tr[data-templates-of="${subject.id}"]`);
  if (open) {
    open.remove();
    button.setAttribute("aria-expanded", "false");
    return;
  }
  button.setAttribute("aria-expanded", "true");
  const refresh = async () => {
    await load();
    const again = document.querySelector(`#subjects-table tr[data-subject-id="${subject.id}"] button[aria-expanded]`);
    if (again) await togglePhotos(subject, again);
  };
  try {
    const row = await templatesRow(subject, 6, refresh);
    button.closest("tr").after(row);
  } catch (error) {
    button.setAttribute("aria-expanded", "false");
    toast(error.message);
  }
}

async function exportSubject(subject) {
  try {
    const response = await api(`/subjects/${subject.id}/export`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `sightline-export-${subject.id}.zip` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    toast(`Export of ${subject.name} downloaded.`);
  } catch (error) {
    toast(error.message);
  }
}

function erase(subject) {
  const dialog = document.getElementById("erase-dialog");
  document.getElementById("erase-name").textContent = subject.name;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "erase") return;
    try {
      const report = await api(`/subjects/${subject.id}`, { method: "DELETE" });
      toast(`${subject.name} erased (${report.templates} template(s)).`);
      await load();
    } catch (error) {
      toast(error.message);
    }
  };
  dialog.showModal();
  dialog.querySelector("button[value=cancel]").focus();
}

function addPhotos(files) {
  for (const file of files) {
    if (!file.type.startsWith("image/")) continue;
    state.photos.push(file);
    if (roleAtLeast("operator")) {
      checkPhoto(file).then((result) => { state.checks.set(file, result); renderPhotos(); });
    }
  }
  renderPhotos();
}

function checkLabel(file) {
  const result = state.checks.get(file);
  if (!result) return el("span", { class: "check", "data-check": "pending" }, "checking…");
  return el("span", { class: `check ${result.ok ? "ok" : "bad"}`, "data-check": result.ok ? "ok" : "bad" },
            result.ok ? `✔ ${result.text}` : `✖ ${result.text}`);
}

function renderPhotos() {
  const list = document.getElementById("enrol-photos");
  for (const img of list.querySelectorAll("img")) URL.revokeObjectURL(img.src);
  list.replaceChildren(...state.photos.map((file, index) => el("li", { "data-name": file.name },
    el("img", { src: URL.createObjectURL(file), alt: file.name || `photo ${index + 1}` }),
    el("button", { type: "button", class: "danger", "aria-label": `Remove ${file.name || "photo"}`,
                   onclick: () => { state.photos.splice(index, 1); renderPhotos(); } }, "×"),
    checkLabel(file))));
}

async function startCamera() {
  const video = document.getElementById("camera");
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
  } catch (error) {
    toast(`Camera unavailable: ${error.message}`);
    return;
  }
  video.srcObject = state.stream;
  video.hidden = false;
  await video.play();
  document.getElementById("camera-shot").hidden = false;
  document.getElementById("camera-start").textContent = "Stop camera";
}

function stopCamera() {
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
  state.stream = null;
  document.getElementById("camera").hidden = true;
  document.getElementById("camera-shot").hidden = true;
  document.getElementById("camera-start").textContent = "Use camera";
}

function capture() {
  const video = document.getElementById("camera");
  const canvas = el("canvas", { width: video.videoWidth, height: video.videoHeight });
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => addPhotos([new File([blob], `camera-${Date.now()}.jpg`, { type: "image/jpeg" })]),
                "image/jpeg", 0.92);
}

async function enrol(event) {
  event.preventDefault();
  const formEl = event.target;
  const status = document.getElementById("enrol-status");
  if (!state.photos.length) {
    status.textContent = "Add at least one photo.";
    status.className = "status error";
    return;
  }
  // photos that passed the check go first: the subject is created with the first one, the rest follow one by one
  const ordered = [...state.photos].sort((a, b) => Number(!state.checks.get(a)?.ok) - Number(!state.checks.get(b)?.ok));
  const progress = document.getElementById("enrol-progress");
  const button = document.getElementById("enrol-submit");
  const store = document.getElementById("enrol-store").checked;
  button.disabled = true;
  status.className = "status";
  progress.max = ordered.length;
  progress.value = 0;
  progress.hidden = false;
  const rejected = [];
  try {
    const form = new FormData(formEl);
    form.delete("store_images");
    if (store) form.append("store_images", "true");
    form.append("image", ordered[0], ordered[0].name);
    status.textContent = `Enrolling photo 1 of ${ordered.length}…`;
    const subject = await api("/subjects", { method: "POST", form });
    rejected.push(...(subject.enrolment || []).filter((r) => !r.accepted));
    let templates = subject.templates;
    progress.value = 1;
    for (const [index, file] of ordered.slice(1).entries()) {
      status.textContent = `Enrolling photo ${index + 2} of ${ordered.length}…`;
      const more = new FormData();
      more.append("image", file, file.name);
      if (store) more.append("store_images", "true");
      try {
        const added = await api(`/subjects/${subject.id}/faces`, { method: "POST", form: more });
        templates += added.accepted;
        rejected.push(...added.results.filter((r) => !r.accepted));
      } catch (error) {
        rejected.push({ source: file.name, reason: error.code, message: error.message });
      }
      progress.value = index + 2;
    }
    status.textContent = `${subject.name} enrolled with ${templates} template(s)` + (rejected.length
      ? `; ${rejected.length} photo(s) rejected (${rejected.map((r) => `${r.source}: ${reasonText(r.reason, r.message)}`)
        .join("; ")}).` : ".");
    formEl.reset();
    state.photos = [];
    renderPhotos();
    stopCamera();
    state.offset = 0;
    await load();
  } catch (error) {
    status.textContent = error.message;
    status.className = "status error";
  } finally {
    button.disabled = false;
    progress.hidden = true;
  }
}

function bind() {
  state.bound = true;
  document.getElementById("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.q = document.getElementById("search").value.trim();
    state.offset = 0;
    load().catch((error) => toast(error.message));
  });
  document.getElementById("subjects-prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE);
    load().catch((error) => toast(error.message));
  });
  document.getElementById("subjects-next").addEventListener("click", () => {
    state.offset += PAGE;
    load().catch((error) => toast(error.message));
  });
  const zone = document.getElementById("dropzone");
  const picker = document.getElementById("enrol-files");
  zone.addEventListener("click", () => picker.click());
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); picker.click(); }
  });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    addPhotos(event.dataTransfer.files);
  });
  picker.addEventListener("change", () => { addPhotos(picker.files); picker.value = ""; });
  document.getElementById("camera-start").addEventListener("click", () => (state.stream ? stopCamera() : startCamera()));
  document.getElementById("camera-shot").addEventListener("click", capture);
  document.getElementById("enrol-form").addEventListener("submit", enrol);
}
