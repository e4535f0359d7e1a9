// An entry's content as a person can read it: as text only when it is valid
// UTF-8 with nothing unprintable in it, otherwise as hex (offsets, 16 bytes a
// line), with buttons to see it as base64 or as text after all, and always its
// length in bytes. Only the first SHOWN_BYTES are drawn; the length is the whole.
import { el } from '/web/common.js';

export const SHOWN_BYTES = 4096;
const FORMATS = ['text', 'hex', 'base64'];

/** C0 controls other than tab, line feed and carriage return; DEL; C1 controls. */
function unprintable(code) {
  return (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || (code >= 0x7f && code <= 0x9f);
}

/** The content as text when it is valid UTF-8 and printable, else null. */
export function printableText(bytes) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  for (let i = 0; i < text.length; i++) if (unprintable(text.charCodeAt(i))) return null;
  return text;
}

export function hexLines(bytes) {
  const lines = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = Array.from(bytes.subarray(at, at + 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
    lines.push(`${at.toString(16).padStart(8, '0')}  ${row}`);
  }
  return lines.join('\n');
}

function base64(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** `base64Content` as the gateway sends it (a proof's `content`): an element showing it, with its format buttons. */
export function contentView(base64Content) {
  const bytes = Uint8Array.from(atob(base64Content), (c) => c.charCodeAt(0));
  const text = printableText(bytes);
  const shown = bytes.subarray(0, SHOWN_BYTES);
  const render = {
    // Text asked for on binary content: decoded leniently, U+FFFD where a byte is not UTF-8.
    text: () => text?.slice(0, SHOWN_BYTES) ?? new TextDecoder('utf-8').decode(shown),
    hex: () => hexLines(shown),
    base64: () => base64(shown),
  };
  const body = el('pre', { class: 'content-body' });
  const box = el('div', { class: 'content', 'data-bytes': String(bytes.length), 'data-printable': String(text !== null) });
  const buttons = FORMATS.map((format) => {
    const button = el('button', { type: 'button', 'data-format': format }, format);
    button.addEventListener('click', () => show(format));
    return button;
  });
  const show = (format) => {
    box.dataset.format = format;
    body.textContent = render[format]();
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.format === format));
  };
  const length = `${bytes.length.toLocaleString('en')} bytes${bytes.length > SHOWN_BYTES ? `, the first ${SHOWN_BYTES.toLocaleString('en')} shown` : ''}`;
  const kind = text !== null ? 'UTF-8 text' : 'binary (not printable UTF-8)';
  box.append(el('p', { class: 'content-head' }, el('span', { class: 'content-length' }, length), ` · ${kind} · show as `, ...buttons), body);
  show(text !== null ? 'text' : 'hex');
  return box;
}
