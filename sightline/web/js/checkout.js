// Checkout page: open a session, film the customer doing the challenge (getUserMedia + MediaRecorder),
// post the clip once, show the decision. The camera runs only during the challenge.
import { api, ApiError, session } from "./api.js";

const $ = (id) => document.getElementById(id);
const STEP_MS = 2500; // time given per challenge step
const MIN_RECORD_MS = 4000;

// Refusals in words the customer at the till can act on (the server's own text goes to the console).
const PLAIN = {
  no_face: "No face found. Look at the camera and try again.",
  two_faces: "Two faces in view. Only the person paying may be in front of the camera.",
  face_left: "Your face left the picture during the challenge. Stay in front of the camera and try again.",
  session_expired: "That took too long: the challenge expired. Try again.",
  nonce_used: "This challenge was already used. Start a new payment.",
  frames_before_session: "The video was recorded before this payment started. Try again.",
  rate_limited: "Too many attempts right now. Wait a moment.",
  terminal_locked: "This till is locked after repeated failures. Pay another way or ask staff.",
  subject_locked: "Paying by face is locked for this person after repeated failures. Pay another way.",
  not_a_payer: "That person is not enrolled for paying by face.",
  forbidden: "This key may not run the checkout (use a terminal, operator or admin key).",
};

function message(error) {
  if (error instanceof ApiError) return PLAIN[error.code] || error.detail || error.message;
  return String(error.message || error);
}

function show(id) {
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== id;
}

async function checkKey() {
  if (!session.token) return null;
  try {
    return await api("/checkout/config");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) session.token = null;
    return null;
  }
}

async function route() {
  const config = await checkKey();
  $("who").hidden = !config;
  if (!config) {
    show("co-login");
    $("co-key").focus();
    return;
  }
  $("who-label").textContent = `${config.key.name} (${config.key.role})`;
  $("co-policy").textContent = `Challenge: ${config.steps} step(s)${config.fixed_challenge ? " (fixed by the server: test or kiosk mode)" : ", random"}; `
    + `expires after ${config.expiry_s} s; passive liveness ${config.passive_liveness ? "on" : "not installed"}.`;
  show("co-pay");
}

function renderSteps(prompts, current) {
  const list = $("co-steps");
  list.replaceChildren(...prompts.map((text, index) => {
    const item = document.createElement("li");
    item.textContent = text;
    if (index < current) item.className = "done";
    else if (index === current) item.className = "now";
    return item;
  }));
}

function showResult(approved, verdict, reasons) {
  const box = $("co-result");
  box.className = `co-result ${approved ? "approved" : "declined"}`;
  $("co-verdict").textContent = verdict;
  $("co-reasons").replaceChildren(...reasons.map((reason) => {
    const item = document.createElement("li");
    item.textContent = reason;
    return item;
  }));
  box.hidden = false;
}

async function record(stream, prompts, ms) {
  const type = ["video/webm;codecs=vp8", "video/webm", "video/mp4"].find((t) => MediaRecorder.isTypeSupported(t));
  const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  const chunks = [];
  recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  const startedAt = Date.now();
  recorder.start(250);
  const per = ms / prompts.length;
  const timer = setInterval(() => {
    const elapsed = Date.now() - startedAt;
    renderSteps(prompts, Math.min(prompts.length - 1, Math.floor(elapsed / per)));
    $("co-status").textContent = `Recording… ${Math.max(0, Math.ceil((ms - elapsed) / 1000))} s`;
  }, 200);
  await new Promise((resolve) => setTimeout(resolve, ms));
  clearInterval(timer);
  recorder.stop();
  await stopped;
  return { blob: new Blob(chunks, { type: recorder.mimeType || "video/webm" }), startedAt };
}

async function pay(event) {
  event.preventDefault();
  const button = $("co-start");
  button.disabled = true;
  $("co-result").hidden = true;
  let stream;
  try {
    const body = { terminal: $("co-terminal").value.trim() };
    const amount = $("co-amount").value;
    if (amount !== "") body.amount = Number(amount);
    const subject = $("co-subject").value.trim();
    if (subject) body.subject = subject;
    $("co-status").textContent = "Starting…";
    const opened = await api("/checkout/sessions", { method: "POST", json: body });
    const prompts = opened.challenge.prompts;
    renderSteps(prompts, 0);
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    const video = $("co-video");
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const ms = Math.max(MIN_RECORD_MS, STEP_MS * prompts.length);
    const { blob, startedAt } = await record(stream, prompts, ms);
    stream.getTracks().forEach((track) => track.stop());
    stream = null;
    renderSteps(prompts, prompts.length);
    $("co-status").textContent = "Checking…";
    const form = new FormData();
    form.append("nonce", opened.challenge.nonce);
    form.append("started_at", String(startedAt));
    form.append("clip", blob, blob.type.includes("mp4") ? "attempt.mp4" : "attempt.webm");
    const decision = await api(`/checkout/sessions/${encodeURIComponent(opened.session)}/frames`,
      { method: "POST", form });
    $("co-status").textContent = `Decided in ${(decision.elapsed_ms / 1000).toFixed(1)} s.`;
    if (decision.approved) {
      showResult(true, `Approved — ${decision.subject.name}`,
        [`similarity ${decision.similarity.toFixed(3)}`, `challenge: ${decision.liveness.challenge.steps.join(", ")} ✓`]);
    } else {
      showResult(false, "Declined", decision.reasons);
    }
  } catch (error) {
    $("co-status").textContent = "";
    showResult(false, "Not possible", [message(error)]);
  } finally {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    $("co-video").srcObject = null;
    $("co-video").hidden = true;
    button.disabled = false;
  }
}

$("co-login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  session.token = $("co-key").value.trim();
  const config = await checkKey();
  if (!config) {
    $("co-login-error").textContent = "That key was not accepted (unknown, revoked, or not allowed to run the checkout).";
    $("co-login-error").hidden = false;
    return;
  }
  $("co-login-error").hidden = true;
  $("co-key").value = "";
  route();
});

$("logout").addEventListener("click", () => {
  session.token = null;
  route();
});

$("co-form").addEventListener("submit", pay);
route();
