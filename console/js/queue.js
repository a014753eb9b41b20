// The till's outbox: every sale is queued here first, with its client_receipt_id, then sent.
// Offline, sales wait (localStorage keeps them across reloads and a closed tab) and are sent when
// the connection returns. The API records a client_receipt_id at most once per register, forever,
// so sending one twice (a lost answer, two tabs) still records it once.
import { api } from "./api.js";

const listeners = new Set();
const key = (tenantId, what) => `scelle.${what}.${tenantId}`;
const read = (k) => { try { return JSON.parse(localStorage.getItem(k) || "[]"); } catch { return []; } };
const write = (k, v) => localStorage.setItem(k, JSON.stringify(v));

export function onQueueChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }
const changed = (tenantId) => listeners.forEach((fn) => fn(tenantId));

export const waiting = (tenantId) => read(key(tenantId, "queue"));
export const sent = (tenantId) => read(key(tenantId, "sent"));
export const findSent = (tenantId, crid) => sent(tenantId).find((s) => s.data.client_receipt_id === crid);

export function enqueue(tenantId, sale) {
  const q = waiting(tenantId);
  q.push({ sale, status: "waiting", queued_at: new Date().toISOString(), error: null });
  write(key(tenantId, "queue"), q);
  changed(tenantId);
}

export function discard(tenantId, crid) {
  write(key(tenantId, "queue"), waiting(tenantId).filter((i) => i.sale.client_receipt_id !== crid));
  changed(tenantId);
}

function remember(tenantId, answer) {
  const s = sent(tenantId).filter((x) => x.data.client_receipt_id !== answer.data.client_receipt_id);
  s.unshift(answer);
  write(key(tenantId, "sent"), s.slice(0, 30));
}

const running = new Map();
// Send what waits, oldest first. Stops at the first sale that cannot be sent now (offline, busy,
// signed out); a sale the API refuses for good (4xx) stays in the list, marked, for a person.
export function flush(tenantId) {
  if (running.has(tenantId)) return running.get(tenantId);
  const run = (async () => {
    const results = [];
    for (const item of waiting(tenantId)) {
      if (item.status === "failed") continue;
      const crid = item.sale.client_receipt_id;
      try {
        const answer = await api("POST", `/v1/tenants/${tenantId}/sales`, {
          body: item.sale, headers: { "Idempotency-Key": crid } });
        remember(tenantId, answer);
        write(key(tenantId, "queue"), waiting(tenantId).filter((i) => i.sale.client_receipt_id !== crid));
        results.push(answer);
        changed(tenantId);
      } catch (err) {
        if (err.offline || err.status === 401 || err.status === 429 || err.status >= 500) break;
        const q = waiting(tenantId);
        const mine = q.find((i) => i.sale.client_receipt_id === crid);
        if (mine) { mine.status = "failed"; mine.error = err.message; write(key(tenantId, "queue"), q); }
        changed(tenantId);
      }
    }
    return results;
  })();
  running.set(tenantId, run);
  return run.finally(() => running.delete(tenantId));
}

// Keep trying while the console is open: when the browser says the connection is back, and every
// 15 seconds (the "online" event does not fire on every kind of outage).
let watched = null;
export function watch(tenantId) {
  watched = tenantId;
  if (watch.started) return;
  watch.started = true;
  window.addEventListener("online", () => watched && flush(watched));
  setInterval(() => { if (watched && navigator.onLine && waiting(watched).length) flush(watched); }, 15_000);
}
