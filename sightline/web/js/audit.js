// Audit page: chain status at a glance, entries filtered by action, user and date, paged newest first; the
// subject column names enrolled people for keys that may see names.
import { api, el, toast } from "./api.js";

const PAGE = 50;
const state = { offset: 0, bound: false };

export async function showAudit() {
  if (!state.bound) bind();
  await Promise.all([chain(), load()]);
}

async function chain() {
  const box = document.getElementById("chain-status");
  try {
    const report = await api("/audit/verify");
    box.className = report.ok ? "chain ok" : "chain bad";
    box.textContent = report.ok
      ? `✔ Audit chain intact: ${report.rows} entries, head #${report.head_seq} (${report.head_hash.slice(0, 12)}…)`
      : `✖ Audit chain BROKEN at entry #${report.first_bad_seq}: ${report.reason}`;
  } catch (error) {
    box.className = "chain bad";
    box.textContent = `Could not check the chain: ${error.message}`;
  }
}

// The subject's current name where this key may see it (the server sends names to keys that may list
// subjects); an erased subject keeps only its id, as the audit row does.
function subjectCell(id, names) {
  if (!id) return el("td", {}, "–");
  const short = el("span", { class: "mono hint" }, id.slice(0, 12));
  if (names[id]) return el("td", { "data-subject": id }, el("strong", {}, names[id]), " ", short);
  if (id in names) return el("td", { "data-subject": id }, short, el("span", { class: "hint" }, " (erased)"));
  return el("td", { class: "mono", "data-subject": id }, id.slice(0, 12));
}

async function load() {
  const params = {
    action: document.getElementById("audit-action").value,
    actor: document.getElementById("audit-actor").value.trim(),
    since: document.getElementById("audit-since").value,
    until: document.getElementById("audit-until").value,
    routine: document.getElementById("audit-routine").checked ? "true" : "",
    limit: PAGE, offset: state.offset,
  };
  const data = await api("/audit/page", { params });
  const select = document.getElementById("audit-action");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "All actions"),
    ...data.actions.map((action) => el("option", { value: action, selected: action === chosen }, action)));
  const body = document.querySelector("#audit-table tbody");
  body.replaceChildren(...data.items.map((entry) => el("tr", { "data-action": entry.action },
    el("td", { class: "mono" }, String(entry.seq)),
    el("td", { class: "mono" }, entry.ts.slice(0, 19).replace("T", " ")),
    el("td", {}, entry.actor),
    el("td", {}, entry.action),
    subjectCell(entry.subject_id, data.subject_names || {}),
    el("td", {}, entry.outcome))));
  if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: 6 }, "No entries match.")));
  const last = Math.min(state.offset + data.items.length, data.total);
  const hidden = data.hidden ? ` (${data.hidden} routine page view${data.hidden === 1 ? "" : "s"} hidden)` : "";
  document.getElementById("audit-count").textContent =
    (data.total ? `${state.offset + 1}–${last} of ${data.total}` : "0 entries") + hidden;
  document.getElementById("audit-prev").disabled = state.offset === 0;
  document.getElementById("audit-next").disabled = last >= data.total;
}

function bind() {
  state.bound = true;
  document.getElementById("audit-routine").addEventListener("change", () => {
    state.offset = 0;
    load().catch((error) => toast(error.message));
  });
  document.getElementById("audit-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    state.offset = 0;
    load().catch((error) => toast(error.message));
  });
  document.getElementById("audit-prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE);
    load().catch((error) => toast(error.message));
  });
  document.getElementById("audit-next").addEventListener("click", () => {
    state.offset += PAGE;
    load().catch((error) => toast(error.message));
  });
}
