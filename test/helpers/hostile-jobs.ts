// A hostile compliance API for the job-ownership tests: it answers every job request with a job
// object the test shapes, e.g. one whose results can no longer be downloaded. Binds only to
// 127.0.0.1 on an ephemeral port; importing this module does nothing by itself.

import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";

export interface HostileJobs {
  apiUrl: string;
  /** Method and path of every request, in order. */
  requests: string[];
}

/** Serves `POST /2/compliance/jobs`, `GET /2/compliance/jobs[/:id]` with `job(now)`; anything else is 404. */
export async function hostileJobs(t: TestContext, job: (nowMs: number) => Record<string, unknown>): Promise<HostileJobs> {
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0]!;
    requests.push(`${req.method} ${path}`);
    req.resume();
    req.on("end", () => {
      const send = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
      };
      if (path === "/2/compliance/jobs" && req.method === "POST") return send(200, { data: job(Date.now()) });
      if (path === "/2/compliance/jobs" && req.method === "GET") return send(200, { data: [job(Date.now())], meta: { result_count: 1 } });
      if (/^\/2\/compliance\/jobs\/\d+$/.test(path) && req.method === "GET") return send(200, { data: job(Date.now()) });
      send(404, { title: "Not Found", detail: "no such route", type: "about:blank", status: 404 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  const { port } = server.address() as AddressInfo;
  return { apiUrl: `http://127.0.0.1:${port}`, requests };
}

/**
 * A proxy in front of an emulator's API whose `Date` header follows `nowMs()` instead of this
 * machine's clock, so the API's clock can be made to run ahead of or behind the client's (pair it
 * with an emulator `clock` giving the same time). Binds only to 127.0.0.1 on an ephemeral port.
 */
export async function skewedApi(t: TestContext, upstream: string, nowMs: () => number): Promise<string> {
  const target = new URL(upstream);
  const server = createServer((req, res) => {
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, date: new Date(nowMs()).toUTCString() });
        answer.pipe(res);
        answer.on("error", () => res.destroy());
        answer.on("aborted", () => res.destroy());
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}${target.pathname.replace(/\/$/, "")}`;
}
