// Subjects: each enrolled template with the thumbnail of its stored photo (when one was kept), and
// "Remove" for one template; plus the quality check of a photo before it is sent for enrolment.
import { api, el, roleAtLeast } from "./api.js";
import { oversize } from "./imagesize.js";

const REASONS = {
  no_face: "no face found",
  several_faces: "several faces: use a photo of this person alone",
  too_small: "face too small: use a closer photo",
  too_blurred: "too blurred: use a sharper photo",
  bad_pose: "face turned away: use a photo facing the camera",
};

/** Plain words for an enrolment rejection code. */
export function reasonText(code, message) {
  return REASONS[code] || message || code;
}

/** Ask the server whether a photo would pass the enrolment gate: {ok, text}. Never throws. */
export async function checkPhoto(file) {
  const tooBig = await oversize(file);
  if (tooBig) return { ok: false, text: "too large" };
  const form = new FormData();
  form.append("image", file, file.name || "photo.jpg");
  try {
    const result = await api("/enrolment/check", { method: "POST", form });
    return result.ok ? { ok: true, text: "face found" } : { ok: false, text: reasonText(result.reason, result.message) };
  } catch (error) {
    return { ok: false, text: error.message };
  }
}

/** A table row under a subject's row listing their templates, thumbnails and a Remove button for each. */
export async function templatesRow(subject, columns, onChange) {
  const cell = el("td", { colspan: columns }, el("p", { class: "hint" }, "Loading templates…"));
  const row = el("tr", { class: "templates-row", "data-templates-of": subject.id }, cell);
  const record = await api(`/subjects/${subject.id}`);
  const urls = [];
  const items = record.template_list.map((template, index) => {
    const figure = el("figure", { class: "template" });
    if (template.image_id && roleAtLeast("operator")) {
      const img = el("img", { alt: `Stored photo ${index + 1} of ${subject.name}` });
      figure.append(img);
      api(`/subjects/${subject.id}/faces/${template.id}/photo`, { raw: true })
        .then(async (response) => { const url = URL.createObjectURL(await response.blob()); urls.push(url); img.src = url; })
        .catch(() => img.replaceWith(el("div", { class: "no-photo" }, "photo unavailable")));
    } else {
      figure.append(el("div", { class: "no-photo" }, "no photo kept"));
    }
    figure.append(el("figcaption", { class: "small" }, `#${template.id} · quality ${template.quality.toFixed(2)}`));
    if (roleAtLeast("operator")) {
      const remove = el("button", { type: "button", class: "secondary",
        "aria-label": `Remove template ${index + 1} of ${subject.name}` }, "Remove");
      remove.addEventListener("click", async () => {
        if (!confirm(`Remove this template of ${subject.name}${template.image_id ? " and its stored photo" : ""}?`)) return;
        remove.disabled = true;
        try {
          await api(`/subjects/${subject.id}/faces/${template.id}`, { method: "DELETE" });
          for (const url of urls) URL.revokeObjectURL(url);
          await onChange();
        } catch (error) {
          remove.disabled = false;
          figure.append(el("p", { class: "error" }, error.message));
        }
      });
      figure.append(remove);
    }
    return figure;
  });
  cell.replaceChildren(items.length ? el("div", { class: "templates" }, items)
    : el("p", { class: "hint" }, "No templates: this person cannot be recognised until a photo is added."));
  return row;
}
