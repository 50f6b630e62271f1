// Hostile answers for the review tests of the HTTP layer: an answer body that never ends, and
// servers that echo the bearer token back. They run inside hostileServer (127.0.0.1, port 0).

import type { IncomingMessage, ServerResponse } from "node:http";

/** Answers `status` and then writes one byte every `everyMs` for as long as the client reads. */
export function endlessBody(res: ServerResponse, status: number, headers: Record<string, string> = {}, everyMs = 50): void {
  res.writeHead(status, { "content-type": "text/plain", ...headers });
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer);
    res.write("x");
  }, everyMs);
  res.on("close", () => clearInterval(timer));
  res.on("error", () => undefined);
}

/** The bearer token the request carried (what an echoing server would put in its answer). */
export function tokenOf(req: IncomingMessage): string {
  return String(req.headers.authorization ?? "").replace(/^Bearer /, "");
}
