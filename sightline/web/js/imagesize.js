// Read a photo's width and height from its header bytes, without decoding it (JPEG, PNG, GIF, WebP, BMP),
// so that an oversize photo is refused at once instead of after seconds of decoding in the browser.

export const MAX_PIXELS = 50_000_000;  // the server's default SIGHTLINE_MAX_IMAGE_PIXELS
export const MAX_BYTES = 50 * 1024 * 1024;  // the server's default SIGHTLINE_MAX_IMAGE_BYTES

/** {width, height} from the file's header, or null when the format is not one of the above. */
export async function imageSize(file) {
  const bytes = new Uint8Array(await file.slice(0, 256 * 1024).arrayBuffer());
  const view = new DataView(bytes.buffer);
  const ascii = (at, n) => String.fromCharCode(...bytes.slice(at, at + n));
  if (bytes.length >= 24 && ascii(1, 3) === "PNG" && ascii(12, 4) === "IHDR") {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes.length >= 10 && ascii(0, 3) === "GIF") {
    return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
  }
  if (bytes.length >= 26 && ascii(0, 2) === "BM") {
    return { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) };
  }
  if (bytes.length >= 30 && ascii(0, 4) === "RIFF" && ascii(8, 4) === "WEBP") return webpSize(bytes, view, ascii);
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes, view);
  return null;
}

function webpSize(bytes, view, ascii) {
  const chunk = ascii(12, 4);
  if (chunk === "VP8X") {
    const w = 1 + (bytes[24] | (bytes[25] << 8) | (bytes[26] << 16));
    const h = 1 + (bytes[27] | (bytes[28] << 8) | (bytes[29] << 16));
    return { width: w, height: h };
  }
  if (chunk === "VP8 ") return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  if (chunk === "VP8L") {
    const bits = view.getUint32(21, true);
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  return null;
}

function jpegSize(bytes, view) {
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) { at += 1; continue; }
    const marker = bytes[at + 1];
    if (marker === 0xff) { at += 1; continue; }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue; }
    const length = view.getUint16(at + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isFrame) return { width: view.getUint16(at + 7), height: view.getUint16(at + 5) };
    at += 2 + length;
  }
  return null;
}

/** Plain words when a photo is too big to send, else null. */
export async function oversize(file) {
  if (file.size > MAX_BYTES) {
    return `This file is ${(file.size / 1048576).toFixed(0)} MB: too large (the limit is ${MAX_BYTES / 1048576} MB). `
      + "Use a smaller photo.";
  }
  const size = await imageSize(file);
  if (size && size.width * size.height > MAX_PIXELS) {
    const mp = (size.width * size.height / 1e6).toFixed(1);
    return `This photo is ${size.width} × ${size.height} pixels (${mp} megapixels): too large `
      + `(the limit is ${MAX_PIXELS / 1e6} megapixels). Resize it and try again.`;
  }
  return null;
}
