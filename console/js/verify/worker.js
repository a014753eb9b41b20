// The verifier in a module Worker, so that a large archive never blocks the page: the page posts
// {blob}, the worker answers {progress} now and then, then {result} (or {error}).
import { verifyArchive } from "./archive.js";

self.onmessage = async (event) => {
  const { blob } = event.data || {};
  try {
    const result = await verifyArchive(blob, { onProgress: (progress) => self.postMessage({ progress }) });
    self.postMessage({ result });
  } catch (err) {
    self.postMessage({ error: String((err && err.message) || err) });
  }
};
