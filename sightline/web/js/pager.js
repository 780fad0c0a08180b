// One pager for the paged lists (events, review items, vehicle passages): the filter form, Previous/Next
// buttons and the "1–25 of 80" count, found by the page's id prefix ("events", "review", "vehicles").
import { toast } from "./api.js";

export function bindPager(prefix, state, pageSize, load) {
  state.bound = true;
  const reload = () => load().catch((error) => toast(error.message));
  document.getElementById(`${prefix}-filter`).addEventListener("submit", (event) => {
    event.preventDefault();
    state.offset = 0;
    reload();
  });
  document.getElementById(`${prefix}-prev`).addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - pageSize);
    reload();
  });
  document.getElementById(`${prefix}-next`).addEventListener("click", () => {
    state.offset += pageSize;
    reload();
  });
}

export function showPageCount(prefix, state, data, nothing) {
  const last = Math.min(state.offset + data.items.length, data.total);
  document.getElementById(`${prefix}-count`).textContent = data.total
    ? `${state.offset + 1}–${last} of ${data.total}` : nothing;
  document.getElementById(`${prefix}-prev`).disabled = state.offset === 0;
  document.getElementById(`${prefix}-next`).disabled = last >= data.total;
}
