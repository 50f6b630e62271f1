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

export interface ScriptedJobs {
  server: HostileServer;
  /** Resolves when the download of job number `n` (0-based, in creation order) has sent its first half. */
  started(n: number): Promise<void>;
  /** Sends the rest of job `n`'s results. */
  release(n: number): void;
}

/**
 * A whole API for `compliant all`: POST makes job number n (ids 1460694452490675000 + n), its
 * upload is accepted, it is complete once uploaded, and its results are `bodies[n]`. A job in
 * `hold` sends the first half of its results at once and the rest only when released.
 */
export async function scriptedJobs(t: TestContext, bodies: Buffer[], hold: number[]): Promise<ScriptedJobs> {
  const base = 1460694452490675000n;
  const gates = bodies.map(() => {
    let begin!: () => void;
    const started = new Promise<void>((r) => (begin = r));
    return { started, begin, go: undefined as undefined | (() => void), uploaded: false };
  });
  const jobs: Array<Record<string, unknown>> = [];
  const view = (n: number, origin: string) =>
    jobJson(
      {
        id: String(base + BigInt(n)),
        name: jobs[n]!.name,
        status: gates[n]!.uploaded ? "complete" : "created",
        created_at: jobs[n]!.created_at,
        upload_url: `${origin}/upload/${n}`,
        upload_expires_at: new Date(Date.now() + 900_000).toISOString(),
        download_url: `${origin}/download/${n}`,
        download_expires_at: new Date(Date.now() + 6 * 86400_000).toISOString(),
      },
      origin,
    );
  const server = await hostileServer(t, (req, res, s) => {
    const path = req.seen.path.split("?")[0]!;
    if (req.method === "POST" && path === "/2/compliance/jobs") {
      const n = jobs.length;
      jobs.push({ name: (JSON.parse(req.seen.body || "{}") as { name?: string }).name, created_at: new Date().toISOString() });
      return sendJson(res, 200, { data: view(n, s.origin) });
    }
    const up = /^\/upload\/(\d+)$/.exec(path);
    if (up) {
      gates[Number(up[1])]!.uploaded = true;
      res.writeHead(200, { "content-length": "0" });
      res.end();
      return;
    }
    const one = /^\/2\/compliance\/jobs\/(\d+)$/.exec(path);
    if (one) {
      const n = Number(BigInt(one[1]!) - base);
      if (jobs[n]) return sendJson(res, 200, { data: view(n, s.origin) });
      return sendJson(res, 404, { title: "Not Found" });
    }
    if (path === "/2/compliance/jobs") return sendJson(res, 200, { data: jobs.map((_, n) => view(n, s.origin)), meta: { result_count: jobs.length } });
    const down = /^\/download\/(\d+)$/.exec(path);
    if (down) {
      const n = Number(down[1]);
      const body = bodies[n]!;
      const g = gates[n]!;
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(body.length) });
      if (!hold.includes(n)) {
        res.end(body);
        return;
      }
      const half = Math.floor(body.length / 2);
      res.write(body.subarray(0, half));
      g.go = () => res.end(body.subarray(half));
      g.begin();
      return;
    }
    sendJson(res, 404, { title: "Not Found" });
  });
  return { server, started: (n) => gates[n]!.started, release: (n) => gates[n]!.go?.() };
}
