// Verify page: are two photos the same person, or is this photo an enrolled person? (1:1, audited server-side)
import { api, el, roleAtLeast } from "./api.js";
import { oversize } from "./imagesize.js";

const state = { bound: false, current: 0, previews: {} };

export async function showVerify() {
  if (!state.bound) bind();
  const canSubject = roleAtLeast("operator");
  document.getElementById("verify-subject-choice").hidden = !canSubject;
  if (!canSubject) document.querySelector('input[name="verify-mode"][value="pair"]').checked = true;
  switchMode();
  if (canSubject) await loadSubjects();
}

async function loadSubjects() {
  const select = document.getElementById("verify-subject");
  const chosen = select.value;
  const data = await api("/subjects", { params: { limit: 500 } });
  select.replaceChildren(...data.items.map((s) => el("option", { value: s.id, selected: s.id === chosen }, s.name)));
  if (!data.items.length) select.append(el("option", { value: "" }, "Nobody is enrolled yet"));
}

function mode() {
  return document.querySelector('input[name="verify-mode"]:checked').value;
}

function switchMode() {
  const subject = mode() === "subject";
  document.getElementById("verify-b-box").hidden = subject;
  document.getElementById("verify-subject-box").hidden = !subject;
  document.getElementById("verify-a").previousElementSibling.textContent = subject ? "Photo" : "First photo";
  clearVerdict();
}

function clearVerdict() {
  state.current += 1;
  const verdict = document.getElementById("verify-verdict");
  verdict.hidden = true;
  verdict.textContent = "";
  const status = document.getElementById("verify-status");
  status.className = "status";
  status.textContent = "";
}

function preview(input, which) {
  const img = document.getElementById(`verify-${which}-preview`);
  if (state.previews[which]) URL.revokeObjectURL(state.previews[which]);
  state.previews[which] = null;
  img.hidden = true;
  img.removeAttribute("src");
  clearVerdict();
  const file = input.files[0];
  if (!file) return;
  oversize(file).then((problem) => {  // never hand an oversize photo to the browser's decoder
    if (problem || input.files[0] !== file) return;
    state.previews[which] = URL.createObjectURL(file);
    img.src = state.previews[which];
    img.hidden = false;
  });
}

/** "same person — 0.96, needs 0.92" in words, with the numbers kept for whoever tunes the threshold. */
export function verdictText(same, score, threshold, name) {
  const who = name ? (same ? `This is ${name}` : `Not ${name}`) : (same ? "Same person" : "Not the same person");
  return `${who} — similarity ${score.toFixed(2)}, needs ${threshold.toFixed(2)}`;
}

async function compare(event) {
  event.preventDefault();
  clearVerdict();
  const mine = state.current;
  const status = document.getElementById("verify-status");
  const verdict = document.getElementById("verify-verdict");
  const fail = (message) => {
    if (mine !== state.current) return;
    status.textContent = message;
    status.className = "status error";
  };
  const a = document.getElementById("verify-a").files[0];
  const b = document.getElementById("verify-b").files[0];
  const subjectId = document.getElementById("verify-subject").value;
  const bySubject = mode() === "subject";
  if (!a) return fail(bySubject ? "Choose a photo first." : "Choose the first photo.");
  if (!bySubject && !b) return fail("Choose the second photo.");
  if (bySubject && !subjectId) return fail("Choose an enrolled person.");
  const labelled = bySubject ? [["", a]] : [["First photo: ", a], ["Second photo: ", b]];
  for (const [label, file] of labelled) {
    const problem = await oversize(file);
    if (problem) return fail(label + problem);
  }
  const form = new FormData();
  if (bySubject) {
    form.append("image", a, a.name);
    form.append("subject_id", subjectId);
  } else {
    form.append("image_a", a, a.name);
    form.append("image_b", b, b.name);
  }
  status.textContent = "Comparing…";
  const button = document.getElementById("verify-submit");
  button.disabled = true;
  try {
    const result = await api("/faces/verify", { method: "POST", form });
    if (mine !== state.current) return;
    const score = bySubject ? result.score : result.similarity;
    verdict.textContent = verdictText(result.same_person, score, result.threshold, bySubject ? result.name : null);
    verdict.className = result.same_person ? "verdict same" : "verdict different";
    verdict.hidden = false;
    status.textContent = bySubject ? `Compared with ${result.templates} stored template(s) of ${result.name}.` : "";
  } catch (error) {
    fail(which(error, bySubject ? [] : [["First photo", a], ["Second photo", b]]) + error.message);
  } finally {
    button.disabled = false;
  }
}

// The server names the file a problem is in; say "First photo:" or "Second photo:" instead.
function which(error, labelled) {
  const detail = error.detail || "";
  for (const [label, file] of labelled) {
    if (file && (detail.startsWith(`${file.name}:`) || detail.endsWith(` ${file.name}`))) return `${label}: `;
  }
  return "";
}

function bind() {
  state.bound = true;
  for (const radio of document.querySelectorAll('input[name="verify-mode"]')) radio.addEventListener("change", switchMode);
  const a = document.getElementById("verify-a");
  const b = document.getElementById("verify-b");
  a.addEventListener("change", () => preview(a, "a"));
  b.addEventListener("change", () => preview(b, "b"));
  document.getElementById("verify-subject").addEventListener("change", clearVerdict);
  document.getElementById("verify-form").addEventListener("submit", compare);
}
