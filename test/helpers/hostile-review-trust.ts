// Hostile local servers for the review tests (127.0.0.1, port 0 only). Importing does nothing.

import type { ServerResponse } from "node:http";
import type { TestContext } from "node:test";
import { HOSTILE_JOB_ID } from "./hostile-cli.js";
import { hostileServer, jobJson, sendJson, type HostileServer } from "./hostile-http.js";

export interface HeldDownloads {
  server: HostileServer;
  /** Resolves when download number `n` (0-based) has been answered with its first half. */
  started(n: number): Promise<void>;
  /** Sends the rest of download number `n`. */
  release(n: number): void;
}

/**
 * An API whose one complete job's results are `body`: every download gets its headers
 * (Content-Length) and the first half of the body at once, and the rest only when released, so a
 * test can order two downloads of the same job exactly.
 */
export async function heldDownloads(t: TestContext, body: Buffer): Promise<HeldDownloads> {
  const held: Array<{ res?: ServerResponse; go?: () => void; started: Promise<void>; begin: () => void }> = [];
  const slot = (n: number) => {
    while (held.length <= n) {
      let begin!: () => void;
      const started = new Promise<void>((r) => (begin = r));
      held.push({ started, begin });
    }
    return held[n]!;
  };
  let downloads = 0;
  const server = await hostileServer(t, (req, res, s) => {
    if (req.seen.path.startsWith("/download/")) {
      const h = slot(downloads++);
      const half = Math.floor(body.length / 2);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(body.length) });
      res.write(body.subarray(0, half));
      h.go = () => res.end(body.subarray(half));
      h.begin();
      return;
    }
    if (req.seen.path.startsWith(`/2/compliance/jobs/${HOSTILE_JOB_ID}`)) {
      sendJson(res, 200, { data: jobJson({ status: "complete", download_expires_at: new Date(Date.now() + 86400_000 * 6).toISOString() }, s.origin) });
      return;
    }
    sendJson(res, 404, { title: "Not Found" });
  });
  return {
    server,
    started: (n) => slot(n).started,
    release: (n) => slot(n).go?.(),
  };
}
