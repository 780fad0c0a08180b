// Entry point: log-in, hash routing between the pages, role-aware navigation.
import { api, ApiError, clearToast, session, toast } from "./api.js";
import { showSubjects } from "./subjects.js";
import { showTry } from "./try.js";
import { showVerify } from "./verify.js";
import { showAudit } from "./audit.js";
import { showEvents } from "./events.js";
import { showReview } from "./review.js";
import { showVehicles } from "./vehicles.js";
import { showCameras, stopLive } from "./cameras.js";

const pages = { subjects: showSubjects, try: showTry, verify: showVerify, review: showReview, events: showEvents, vehicles: showVehicles, cameras: showCameras, audit: showAudit };

function showOnly(id) {
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== `page-${id}`;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function whoAmI() {
  if (!session.token) return null;
  try {
    session.me = await api("/keys/me");
    return session.me;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) session.token = null;
    return null;
  }
}

async function route() {
  clearToast();
  const me = session.me || await whoAmI();
  document.getElementById("nav").hidden = !me;
  document.getElementById("who").hidden = !me;
  if (!me) {
    showOnly("login");
    document.getElementById("api-key").focus();
    return;
  }
  document.getElementById("who-label").textContent = `${me.name} (${me.role})`;
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
  const page = pages[name] ? name : "subjects";
  if (page !== "cameras") stopLive();
  showOnly(page);
  document.getElementById("main").focus({ preventScroll: true });
  try {
    await pages[page]();
  } catch (error) {
    toast(error.message);
  }
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("api-key");
  const problem = document.getElementById("login-error");
  session.token = input.value.trim();
  session.me = null;
  const me = await whoAmI();
  if (!me) {
    problem.textContent = "That key was not accepted (unknown or revoked).";
    problem.hidden = false;
    input.select();
    return;
  }
  problem.hidden = true;
  input.value = "";
  if (!location.hash || location.hash === "#/login") location.hash = "#/subjects";
  else route();
});

document.getElementById("logout").addEventListener("click", () => {
  stopLive();
  session.token = null;
  session.me = null;
  location.hash = "#/login";
  route();
});

window.addEventListener("hashchange", route);
route();
