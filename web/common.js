// What the dashboard's modules share: the key kept in session storage, the
// HTTP helper that presents it, and a DOM builder that only ever sets text.
const KEY_ITEM = 'chainlanes.key';

export const session = {
  key: () => sessionStorage.getItem(KEY_ITEM),
  setKey(key) {
    if (key === null || key === '') sessionStorage.removeItem(KEY_ITEM);
    else sessionStorage.setItem(KEY_ITEM, key);
  },
};

/** GET `path` as JSON with the session's key: `{ok, status, body}`, never a throw for an HTTP error. */
export async function api(path) {
  const key = session.key();
  const response = await fetch(path, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = { error: { message: `HTTP ${response.status}` } };
  }
  return { ok: response.ok, status: response.status, body };
}

/** An element with attributes and children (strings become text nodes: nothing is parsed as HTML). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}
