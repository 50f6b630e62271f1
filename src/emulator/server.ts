// A local emulator of the X API v2 batch compliance endpoints plus the signed-URL (GCS-like)
// storage they hand out. node:http only; importing this module has no side effects.
// Behaviour follows the public X API v2 compliance documentation and the responses the real API
// and its storage return (status codes, headers, error bodies, result file formats).
//
// This module wires the parts together: jobs.ts (job store), faults.ts (fault injection),
// rate-limit.ts, http-util.ts (request context, responses, body readers), api-routes.ts,
// storage-routes.ts and resumable.ts (resumable upload sessions).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { genericProblem } from "./problems.js";
import type { EmulatorFlow } from "./results.js";
import { UrlSigner } from "./signing.js";
import { classifyApi, handleApi, type ApiDeps } from "./api-routes.js";
import { applyFault, FaultQueue } from "./faults.js";
import { logEntry, sendError, type Ctx } from "./http-util.js";
import { JobStore } from "./jobs.js";
import { RateLimiter } from "./rate-limit.js";
import { ResumableSessions } from "./resumable.js";
import { classifyStorage, handleStorage, type StorageDeps } from "./storage-routes.js";
import type { Clock, Emulator, EmulatorOptions, Fault, ManualClock, RequestLogEntry } from "./types.js";

export {
  problems,
  invalidRequest,
  jobNotFoundError,
  xmlError,
  genericProblem,
  conflict,
  payloadTooLarge,
  unsupportedMediaType,
  invalidByteToken,
} from "./problems.js";
export {
  expectedEvent,
  expectedLines,
  renderResultLine,
  expectedResultsFile,
  processIdFile,
  snowflakeMs,
  isInvalidApiId,
  SNOWFLAKE_EPOCH_MS,
} from "./results.js";
export type { EmulatedEvent, EmulatedErrorLine, EmulatedResultLine, EmulatorFlow, EmulatorJobType, ProcessResult } from "./results.js";
export type {
  Clock,
  ManualClock,
  RouteKind,
  RequestLogEntry,
  JobStatus,
  EmulatedJobInfo,
  FaultMatch,
  FaultAction,
  Fault,
  EmulatorOptions,
  Emulator,
} from "./types.js";
export { EMULATOR_APP_ID, UPLOAD_WINDOW_MS, DOWNLOAD_WINDOW_MS } from "./jobs.js";
export { RESUMABLE_CHUNK } from "./resumable.js";

/** A clock that only moves when told to. */
export function manualClock(startMs: number): ManualClock {
  let t = startMs;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    set: (ms: number) => {
      t = ms;
    },
  };
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const host = opts.host ?? "127.0.0.1";
  const flow: EmulatorFlow = opts.flow ?? "storage";
  const token = opts.token ?? `emu-${randomBytes(18).toString("base64url")}`;
  const clock: Clock = opts.clock ?? { now: () => Date.now() };
  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "compliant-emulator-")));
  const signer = new UrlSigner(randomBytes(32));

  // Lifecycle: background work close() waits for, open sockets it destroys.
  const background = new Set<Promise<unknown>>();
  const sockets = new Set<Socket>();
  const closing = new AbortController();
  let closed = false;
  const track = <T>(p: Promise<T>): Promise<T> => {
    const q = p.then(
      () => undefined,
      () => undefined,
    );
    background.add(q);
    void q.then(() => background.delete(q));
    return p;
  };

  // All mutable emulator state lives in these objects; the route modules get them explicitly.
  const jobs = new JobStore({ flow, clock, signer, dataDir, track });
  const faults = new FaultQueue();
  const rate = new RateLimiter(opts.rateLimit ?? { limit: 150, windowSeconds: 900 }, clock);
  const sessions = new ResumableSessions(jobs);
  const requests: RequestLogEntry[] = [];
  const maxUploadBytes = opts.maxUploadBytes ?? 128_000_000;
  const api: ApiDeps = {
    token,
    flow,
    clock,
    pollsToComplete: opts.pollsToComplete ?? 1,
    maxUploadBytes,
    cancelSupported: opts.cancelSupported ?? flow === "api",
    octetStreamOnly: opts.octetStreamOnly ?? true,
    cancelToFailed: opts.cancelToFailed ?? true,
    signer,
    jobs,
    rate,
  };
  const storage: StorageDeps = { clock, signer, maxUploadBytes, jobs, sessions };

  // --- dispatch -----------------------------------------------------------------------------

  let seq = 0;
  const onRequest = (origin: "api" | "storage", req: IncomingMessage, res: ServerResponse): void => {
    const t0 = performance.now();
    const method = (req.method ?? "GET").toUpperCase();
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://emulator.invalid");
    } catch {
      url = new URL("http://emulator.invalid/");
    }
    const route = origin === "api" ? classifyApi(method, url.pathname) : classifyStorage(method, url);
    const entry = logEntry(++seq, origin, method, route, url, req);
    requests.push(entry);
    try {
      opts.onRequest?.(entry);
    } catch {
      // A test hook's failure must not break the emulator.
    }
    const ctx: Ctx = { origin, req, res, url, route, entry, t0, closing: closing.signal };
    req.on("error", () => undefined);
    res.on("error", () => undefined);

    const run = async (): Promise<void> => {
      const action = faults.take(origin, route, method);
      if (action !== undefined && (await applyFault(ctx, action, rate))) return;
      if (origin === "api") await handleApi(api, ctx);
      else await handleStorage(storage, ctx);
    };

    const p = run().catch(async (e: unknown) => {
      if (closed) return;
      if (!res.headersSent && !res.destroyed) {
        ctx.stall = undefined;
        ctx.cut = undefined;
        const detail = `emulator error: ${(e as Error)?.message ?? String(e)}`;
        await sendError(ctx, 500, genericProblem(500, detail), "InternalError", detail).catch(() => undefined);
      } else {
        res.destroy();
      }
    });
    track(p);
  };

  // --- servers ------------------------------------------------------------------------------

  const makeServer = (origin: "api" | "storage"): Server => {
    const server = createServer({ highWaterMark: 1 << 20 } as object, (req, res) => onRequest(origin, req, res));
    server.requestTimeout = 0;
    server.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    server.on("clientError", (_err, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    });
    return server;
  };

  const listen = (server: Server, port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        const addr = server.address();
        resolve(typeof addr === "object" && addr !== null ? addr.port : port);
      });
    });

  const apiServer = makeServer("api");
  const storageServer = makeServer("storage");
  const urlHost = host.includes(":") ? `[${host}]` : host;
  try {
    jobs.apiUrl = `http://${urlHost}:${await listen(apiServer, opts.port ?? 0)}`;
    jobs.storageUrl = `http://${urlHost}:${await listen(storageServer, opts.storagePort ?? 0)}`;
  } catch (e) {
    apiServer.close();
    storageServer.close();
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    throw e;
  }

  const closeServer = (server: Server): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  return {
    apiUrl: jobs.apiUrl,
    storageUrl: jobs.storageUrl,
    token,
    requests,
    jobs: () => jobs.all().map((j) => jobs.info(j)),
    fault: (f: Fault) => faults.add(f),
    clearFaults: () => faults.clear(),
    failJob: (id: string, error?: string) => {
      const job = jobs.mustGet(id);
      job.status = "failed";
      job.error = error ?? "Job failed (forced by the emulator).";
    },
    expireJob: (id: string) => {
      const job = jobs.mustGet(id);
      job.status = "expired";
    },
    close: async () => {
      if (closed) return;
      closed = true;
      closing.abort();
      for (const s of sockets) s.destroy();
      await Promise.all([closeServer(apiServer), closeServer(storageServer)]);
      while (background.size > 0) await Promise.all([...background]);
      if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
