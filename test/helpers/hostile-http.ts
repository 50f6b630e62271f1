// Hostile HTTP servers for the HTTP-layer tests: each binds only to 127.0.0.1 on an ephemeral
// port, records every request it sees (method, path, headers) and is closed after the test,
// cutting any connection it is still trickling or flooding.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { ComplianceApi } from "../../src/api/client.js";
import type { HttpOptions } from "../../src/api/http.js";

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface HostileServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  requests: SeenRequest[];
  /** Bytes the handlers wrote through `count` (to bound floods server-side). */
  written: { bytes: number };
}

export type HostileHandler = (req: IncomingMessage & { seen: SeenRequest }, res: ServerResponse, server: HostileServer) => void | Promise<void>;

export async function hostileServer(t: TestContext, handler: HostileHandler): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  const state: HostileServer = { origin: "", requests: [], written: { bytes: 0 } };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen: SeenRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      state.requests.push(seen);
      Promise.resolve(handler(Object.assign(req, { seen }), res, state)).catch(() => res.destroy());
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

/** A job object as the API shapes it, with the given overrides. */
export function jobJson(over: Record<string, unknown> = {}, origin = "http://127.0.0.1:1"): Record<string, unknown> {
  return {
    id: "1460694452490674183",
    type: "tweets",
    status: "in_progress",
    name: "hostile",
    resumable: false,
    created_at: "2026-12-03T08:00:00.000Z",
    upload_url: `${origin}/upload/1460694452490674183`,
    upload_expires_at: "2026-12-03T08:15:00.000Z",
    download_url: `${origin}/download/1460694452490674183`,
    download_expires_at: "2026-12-10T08:00:00.000Z",
    ...over,
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/**
 * Sends `text` one byte per `everyMs` (a server that is alive but never finishes in time).
 * Stops when the connection closes.
 */
export function trickle(res: ServerResponse, status: number, text: string, everyMs = 1000): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed || i >= text.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(text[i++]);
  }, everyMs);
  res.on("close", () => clearInterval(timer));
}

/** Writes `prefix`, then `chunk` for ever (as fast as the client reads), counting bytes in `server.written`. */
export function flood(res: ServerResponse, server: HostileServer, status: number, chunk: string, contentType = "application/problem+json", prefix = ""): void {
  res.writeHead(status, { "content-type": contentType });
  if (prefix) res.write(prefix);
  const buf = Buffer.from(chunk);
  const pump = (): void => {
    while (!res.destroyed) {
      server.written.bytes += buf.length;
      if (!res.write(buf)) {
        res.once("drain", pump);
        return;
      }
    }
  };
  res.on("error", () => undefined);
  pump();
}

/** A client for a hostile server at `origin` with bearer `token`; backoff sleeps are recorded and skipped. */
export function hostileClient(t: TestContext, origin: string, token: string, opts: Partial<HttpOptions> = {}): { api: ComplianceApi; sleeps: number[] } {
  const sleeps: number[] = [];
  const api = new ComplianceApi(origin, {
    apiOrigin: origin,
    token,
    userAgent: "compliant-test",
    retry: { baseBackoffMs: 1, maxBackoffMs: 5, maxAttempts: 3 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...opts,
  });
  t.after(() => api.close());
  return { api, sleeps };
}

/** The error `p` rejects with (failing the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail("expected a rejection");
}
