/** What a check says: it holds, or why not (one sentence naming the first thing that does not hold). */
export type VerifyResult = { ok: true } | { ok: false; reason: string };
