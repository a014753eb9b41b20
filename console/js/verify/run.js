// Runs the verifier on a Blob in a module Worker (worker.js) when the browser can, else in the page
// (it awaits between chunks, so the page stays responsive either way). Pure: no DOM.
import { verifyArchive } from "./archive.js";

export function runVerifier(blob, onProgress) {
  if (typeof Worker === "undefined") return verifyArchive(blob, { onProgress });
  return new Promise((resolve, reject) => {
    let worker;
    try {
      worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    } catch {
      resolve(verifyArchive(blob, { onProgress }));
      return;
    }
    worker.onmessage = (event) => {
      const { progress, result, error } = event.data || {};
      if (progress) { onProgress(progress); return; }
      worker.terminate();
      if (error) reject(new Error(error)); else resolve(result);
    };
    worker.onerror = (event) => { worker.terminate(); reject(new Error(event.message || "the verifier stopped")); };
    worker.postMessage({ blob });
  });
}
