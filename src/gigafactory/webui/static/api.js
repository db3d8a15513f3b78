// Calls to the REST API with the user's key, and server-sent events read over fetch
// (EventSource cannot send an Authorization header).

const KEY = "gigafactory.key";

export function takeKeyFromUrl() {
  const m = location.hash.match(/[#&]key=([^&]+)/);
  if (m) {
    localStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + "#/editor");
  }
}

export const getKey = () => localStorage.getItem(KEY);
export const setKey = (k) => localStorage.setItem(KEY, k);

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || (body.problems && body.problems.map((p) => p.message).join("; ")))) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Authorization: `Bearer ${getKey() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  if (r.status === 204) return null;
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// Follow a job's events; calls onEvent(type, job) until the stream ends or `signal` aborts.
export async function followEvents(jobId, onEvent, signal) {
  const r = await fetch(`/api/jobs/${encodeURIComponent(jobId)}/events`, {
    headers: { Authorization: `Bearer ${getKey() || ""}` }, signal,
  });
  if (!r.ok) throw new ApiError(r.status, null);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trim());
      }
      if (data.length) onEvent(type, JSON.parse(data.join("\n")));
    }
  }
}
