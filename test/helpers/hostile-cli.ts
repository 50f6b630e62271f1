// A small hostile X API on 127.0.0.1 (ephemeral port) for the CLI trust tests: it plays both the
// API and the storage, and lets a test choose what it sends back (job fields with terminal
// escapes, problem bodies, result files with odd lines). Every request is recorded.
// Importing this module does nothing by itself.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";

export interface HostileRequest {
  method: string;
  path: string;
  authorization?: string;
}

export interface HostileOptions {
  /** Fields merged into every job the server returns (e.g. a hostile `name` or `error`). */
  job?: Record<string, unknown>;
  /** Status the job has once its IDs are uploaded (default `complete`). */
  finalStatus?: string;
  /** Answer `POST /2/compliance/jobs` with this status and problem body instead of a job. */
  createProblem?: { status: number; body: Record<string, unknown> };
  /** The results file; a function may write it in pieces and must end the response. */
  results?: string | Buffer | ((res: ServerResponse) => void);
}

export interface HostileApi {
  url: string;
  requests: HostileRequest[];
  close(): Promise<void>;
}

export const HOSTILE_JOB_ID = "1460694452490674183";

export async function hostileApi(t: TestContext, opts: HostileOptions = {}): Promise<HostileApi> {
  const requests: HostileRequest[] = [];
  let uploaded = false;
  let origin = "";
  const created = new Date(Date.now() - 1000).toISOString();
  const job = () => ({
    id: HOSTILE_JOB_ID,
    type: "tweets",
    created_at: created,
    upload_url: `${origin}/upload`,
    upload_expires_at: new Date(Date.now() + 10 * 60_000).toISOString(),
    download_url: `${origin}/download`,
    download_expires_at: new Date(Date.now() + 6 * 86_400_000).toISOString(),
    status: uploaded ? (opts.finalStatus ?? "complete") : "created",
    name: "nightly",
    ...opts.job,
  });
  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": status >= 400 ? "application/problem+json" : "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", origin);
    requests.push({ method: req.method ?? "", path: url.pathname, authorization: req.headers.authorization });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "POST" && url.pathname === "/2/compliance/jobs") {
        if (opts.createProblem) return json(res, opts.createProblem.status, opts.createProblem.body);
        return json(res, 200, { data: job() });
      }
      if (req.method === "GET" && url.pathname === "/2/compliance/jobs") return json(res, 200, { data: [job()], meta: { result_count: 1 } });
      if (req.method === "GET" && url.pathname === `/2/compliance/jobs/${HOSTILE_JOB_ID}`) return json(res, 200, { data: job() });
      if (req.method === "PUT" && url.pathname === "/upload") {
        uploaded = true;
        res.writeHead(200, { "content-length": 0 });
        return res.end();
      }
      if (req.method === "GET" && url.pathname === "/download") {
        const body = opts.results ?? "";
        if (typeof body === "function") return body(res);
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": Buffer.byteLength(body) });
        return res.end(body);
      }
      json(res, 404, { title: "Not Found Error", type: "about:blank", status: 404, detail: "no such route" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  t.after(close);
  return { url: origin, requests, close };
}
