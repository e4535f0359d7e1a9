// What the monitor asks a gateway, over HTTP, as something hostile may answer:
// a deadline on every request, no redirects, and at most MAX_ANSWER_BYTES read.
/** A head, a key or a proof is a few KiB at most; anything far larger is refused unread. */
export const MAX_ANSWER_BYTES = 256 * 1024;

/** A request that got no usable answer: the gateway is down, slow, or answered nonsense. */
export class Unreachable extends Error {}

/** A JSON answer with its status; throws Unreachable for no answer, too large an answer, or one that is not JSON. */
export async function getJson(url: string, timeoutMs: number, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new Unreachable(
      `${init.method ?? 'GET'} ${url}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`,
    );
  }
  const text = await readCapped(response, url);
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    throw new Unreachable(`${url}: HTTP ${response.status}, and the answer is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
  }
}

async function readCapped(response: Response, url: string): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_ANSWER_BYTES) {
    await response.body?.cancel();
    throw new Unreachable(`${url}: an answer of ${declared} bytes, above the ${MAX_ANSWER_BYTES} a monitor reads`);
  }
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_ANSWER_BYTES) {
        await reader.cancel();
        throw new Unreachable(`${url}: an answer longer than the ${MAX_ANSWER_BYTES} bytes a monitor reads`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof Unreachable) throw error;
    throw new Unreachable(`${url}: the answer broke off: ${error instanceof Error ? error.message : String(error)}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}
