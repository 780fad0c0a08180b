// Thin fetch wrapper: adds the API key, turns {"error": {code, message}} into thrown ApiError.
const KEY = "sightline.apiKey";

// What each error code means, in words a person at the desk can act on (the server's own text, which
// may name files, limits and settings, stays in error.detail for the console).
const PLAIN = {
  not_an_image: "That file is not a photo Sightline can read. Use a JPEG, PNG, WebP or BMP image.",
  corrupt_image: "That photo is damaged and could not be read. Try another copy of it.",
  truncated_image: "That photo is incomplete (cut off part-way). Try another copy of it.",
  empty_image: "That file is empty.",
  bad_image: "That photo could not be read. Try another one.",
  too_large: "That photo is too large. Use a smaller one (for example, resized to a few thousand pixels across).",
  payload_too_large: "That upload is too large. Use a smaller photo.",
  unsupported_media_type: "That kind of upload is not accepted. Use a JPEG, PNG, WebP or BMP image.",
  no_face: "No face was found in that photo.",
  several_faces: "That photo shows several faces; use one with only this person.",
  too_small: "The face is too small in that photo; use a closer one.",
  too_blurred: "That photo is too blurred; use a sharper one.",
  unauthorized: "Your key is no longer accepted. Log in again.",
  forbidden: "Your key's role is not allowed to do that.",
  server_busy: "The server is busy. Try again in a few seconds.",
  too_many_requests: "Too many requests. Wait a moment and try again.",
  internal_error: "Something went wrong on the server (it has been logged). Try again.",
  network: "The server could not be reached. Check the connection and try again.",
};

/** The words to show for an error: plain text for known codes, else the server's message. */
export function plainMessage(code, message) {
  return PLAIN[code] || message;
}

export class ApiError extends Error {
  constructor(status, code, message, problems = []) {
    super(plainMessage(code, message));
    this.status = status;
    this.code = code;
    this.detail = message;
    this.problems = problems; // [{path, message}] for a bad camera setting (422 bad_config)
  }
}

export const session = {
  get token() { return sessionStorage.getItem(KEY); },
  set token(value) { value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY); },
  me: null,
};

export async function api(path, { method = "GET", json, form, params, raw = false } = {}) {
  const url = new URL(`/api/v1${path}`, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${session.token}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body });
  } catch (error) {
    throw new ApiError(0, "network", String(error));
  }
  if (!response.ok) {
    let code = "http_error", message = `${response.status} ${response.statusText}`, problems = [];
    try {
      const payload = await response.json();
      code = payload.error.code;
      message = payload.error.message;
      problems = payload.error.problems || [];
    } catch { /* not JSON */ }
    throw new ApiError(response.status, code, message, problems);
  }
  if (raw) return response;
  return response.json();
}

export function roleAtLeast(role) {
  const rank = { viewer: 0, operator: 1, admin: 2 };
  return session.me && rank[session.me.role] >= rank[role];
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

let toastTimer;

/** Take down the toast (on leaving a page: a message belongs to the page that raised it). */
export function clearToast() {
  clearTimeout(toastTimer);
  document.getElementById("toast").hidden = true;
}

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 6000);
}
