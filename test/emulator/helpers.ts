// Shared helpers for the emulator tests. Importing this module does nothing by itself.

import { request, type IncomingHttpHeaders } from "node:http";
import type { TestContext } from "node:test";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/server.js";

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Send the body with chunked transfer encoding (no Content-Length). */
  chunked?: boolean;
}

/** One request on a fresh connection (no keep-alive), so closing the emulator never races a pooled socket. */
export function http(url: string, opts: HttpOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? "GET", headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString("utf8") });
      });
    });
    req.on("error", reject);
    if (opts.body !== undefined && opts.chunked === true) {
      req.write(opts.body);
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

/** Like http() but resolves with the error when the connection fails (reset, cut body). */
export async function httpOutcome(url: string, opts: HttpOptions = {}): Promise<HttpResult | Error> {
  try {
    return await http(url, opts);
  } catch (e) {
    return e as Error;
  }
}

/** Headers as sent to the API origin, with the bearer token. */
export function bearer(emu: Emulator, extra: Record<string, string | number> = {}): Record<string, string | number> {
  return { authorization: `Bearer ${emu.token}`, ...extra };
}

export async function startFor(t: TestContext, opts: EmulatorOptions = {}): Promise<Emulator> {
  const emu = await startEmulator(opts);
  t.after(() => emu.close());
  return emu;
}

export function json(r: HttpResult): any {
  return JSON.parse(r.text);
}

export async function createJob(
  emu: Emulator,
  body: Record<string, unknown> = { type: "tweets" },
): Promise<{ id: string; upload_url: string; download_url: string; status: string; [k: string]: unknown }> {
  const r = await http(`${emu.apiUrl}/2/compliance/jobs`, {
    method: "POST",
    headers: bearer(emu, { "content-type": "application/json" }),
    body: JSON.stringify(body),
  });
  if (r.status !== 200) throw new Error(`create failed: ${r.status} ${r.text}`);
  return json(r).data;
}

export async function getJob(emu: Emulator, id: string): Promise<any> {
  const r = await http(`${emu.apiUrl}/2/compliance/jobs/${id}`, { headers: bearer(emu) });
  return json(r);
}

/** Simple signed-URL upload with exactly `Content-Type: text/plain`. */
export function putIds(url: string, body: string | Buffer, headers: Record<string, string | number> = {}): Promise<HttpResult> {
  return http(url, { method: "PUT", headers: { "content-type": "text/plain", ...headers }, body });
}

/** `count` IDs whose last two digits cycle 00..99, starting from a 2019 snowflake. */
export function sampleIds(count: number, base = 1160404233650352000n): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push((base + BigInt(i)).toString());
  return out;
}

export function xmlCode(text: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
}
