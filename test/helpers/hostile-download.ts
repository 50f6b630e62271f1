// A hostile front for the emulator: two local servers (127.0.0.1, port 0) standing in for its API
// and storage origins. Everything is passed through, except that the job objects' URLs are
// rewritten to point at the front, and result downloads are served by the front itself from the
// emulator's real object, with the framing, checksum, body and length a test chooses.
// Importing this module does nothing by itself.

import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import type { Emulator } from "../../src/emulator/server.js";
import { Crc32c } from "../../src/io/crc32c.js";

export interface DownloadPlan {
  /** Rewrites the object before it is served (e.g. drops its final newline). */
  body?: (object: Buffer) => Buffer;
  /** "length" (default): Content-Length; "chunked"; "close": no framing, the end is the connection closing. */
  framing?: "length" | "chunked" | "close";
  /** Send `x-goog-hash: crc32c=…` of the served object ("right"), or of something else ("wrong"). */
  crc32c?: "right" | "wrong";
  /** After the object, repeat this line for ever (at most `endlessCap` bytes, to keep the test bounded). */
  endless?: string;
  endlessCap?: number;
  /** Close the connection after this many bytes of the body (for "close" framing: a cut at a line end). */
  cutAfter?: number;
  /** Like cutAfter, for the first download only (the client's Range request then gets the rest). */
  cutFirstAfter?: number;
}

export interface HostileFront {
  apiUrl: string;
  /** Range headers of the downloads the front served ("" for none). */
  downloads: string[];
  /** Plan for the next downloads (may be changed between runs). */
  plan: DownloadPlan;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function forward(upstream: string, req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    const out = request(new URL(req.url!, upstream), { method: req.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers as Record<string, string | string[]>, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    out.on("error", reject);
    out.end(body);
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function hostileFront(t: TestContext, emu: Emulator, plan: DownloadPlan = {}): Promise<HostileFront> {
  const api = createServer();
  const storage = createServer();
  const apiUrl = await listen(api);
  const storageUrl = await listen(storage);
  const front: HostileFront = { apiUrl, downloads: [], plan };
  t.after(
    () =>
      new Promise<void>((done) => {
        api.closeAllConnections();
        storage.closeAllConnections();
        api.close(() => storage.close(() => done()));
      }),
  );

  const relay = (res: ServerResponse, r: { status: number; headers: Record<string, string | string[]>; body: Buffer }, rewrite: boolean) => {
    let body = r.body;
    if (rewrite) body = Buffer.from(body.toString("utf8").split(emu.storageUrl).join(storageUrl).split(emu.apiUrl).join(apiUrl));
    const headers = { ...r.headers };
    delete headers["transfer-encoding"];
    delete headers.connection;
    headers["content-length"] = String(body.length);
    res.writeHead(r.status, headers);
    res.end(body);
  };

  api.on("request", (req, res) => {
    void (async () => {
      const body = await readBody(req);
      relay(res, await forward(emu.apiUrl, req, body), true);
    })().catch(() => res.destroy());
  });

  storage.on("request", (req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (req.method !== "GET") return relay(res, await forward(emu.storageUrl, req, body), false);
      // A download: fetch the whole object, then serve it the way the plan says.
      const range = req.headers.range;
      delete req.headers.range;
      const upstream = await forward(emu.storageUrl, req, Buffer.alloc(0));
      if (upstream.status !== 200) return relay(res, upstream, false);
      front.downloads.push(range ?? "");
      const plan = front.downloads.length === 1 && front.plan.cutFirstAfter !== undefined ? { ...front.plan, cutAfter: front.plan.cutFirstAfter } : front.plan;
      await serve(req, res, front.plan.body ? front.plan.body(upstream.body) : upstream.body, range, plan);
    })().catch(() => res.destroy());
  });
  return front;
}

async function serve(req: IncomingMessage, res: ServerResponse, object: Buffer, range: string | undefined, plan: DownloadPlan): Promise<void> {
  const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
  const start = m ? Number(m[1]) : 0;
  if (m && start >= object.length) {
    res.writeHead(416, { "content-range": `bytes */${object.length}`, "content-length": "0" });
    res.end();
    return;
  }
  const headers: Record<string, string> = { "content-type": "application/octet-stream" };
  if (plan.crc32c) {
    const sum = new Crc32c().update(plan.crc32c === "right" ? object : Buffer.concat([object, Buffer.from("x")])).base64();
    headers["x-goog-hash"] = `crc32c=${sum},md5=AAAAAAAAAAAAAAAAAAAAAA==`;
  }
  if (m) headers["content-range"] = `bytes ${start}-${object.length - 1}/${object.length}`;
  let body = object.subarray(start);
  if (plan.cutAfter !== undefined) body = body.subarray(0, plan.cutAfter);
  const framing = plan.framing ?? "length";
  if (framing === "close") {
    // Written on the socket itself: HTTP/1.1 with neither Content-Length nor chunked encoding.
    const head = `HTTP/1.1 ${m ? "206 Partial Content" : "200 OK"}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}connection: close\r\n\r\n`;
    const socket = res.socket!;
    socket.write(head);
    socket.end(body);
    return;
  }
  if (framing === "length" && plan.endless === undefined) headers["content-length"] = String(object.length - start);
  res.writeHead(m ? 206 : 200, headers);
  if (plan.endless !== undefined) {
    res.write(body);
    const line = Buffer.from(plan.endless.repeat(1000));
    const cap = plan.endlessCap ?? 64 * 1024 * 1024;
    for (let sent = 0; sent < cap && !res.destroyed && !req.socket.destroyed; sent += line.length) {
      if (!res.write(line)) await new Promise<void>((r) => { res.once("drain", r); res.once("close", r); });
    }
    res.end();
    return;
  }
  if (plan.cutAfter !== undefined) {
    // Cut once the client has had time to read the bytes (a stream destroyed by the cut drops
    // what its reader has not taken yet).
    await new Promise<void>((done) => res.write(body, () => done()));
    await new Promise((done) => setTimeout(done, 100));
    res.socket?.destroy();
    return;
  }
  res.end(body);
}
