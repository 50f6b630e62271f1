import type { ComplianceApi } from "./api/client.js";
import { apiUrlSource, DEFAULT_API_URL, loadEnv, resolveApiUrl, resolveToken, type Env, type GlobalFlags } from "./config.js";
import { createLog, type Log } from "./output/log.js";
import { terminalPolicy } from "./output/terminal.js";
import type { ChunkHook } from "./runtime.js";
import { VERSION } from "./version.js";

/**
 * What every command handler gets, built once per run by cli.ts. Handlers never touch argv,
 * process.env, process.exit or console: they read from here and return data or throw CliError.
 */
export interface Context {
  flags: GlobalFlags;
  env: Env;
  cwd: string;
  stdin: NodeJS.ReadableStream;
  /** Data only: tables, JSON documents, NDJSON results, ID lists. */
  stdout: NodeJS.WritableStream;
  /** Raw stderr, for the few commands that print there directly (the emulator's note). */
  stderr: NodeJS.WritableStream;
  /** Progress, notes, warnings and debug lines (stderr). */
  log: Log;
  /** Aborted on SIGINT/SIGTERM; pass it to every request, poll and stream. */
  signal: AbortSignal;
  /** The API client; creating it checks the token, so commands that need no API never ask. */
  api(): Promise<ComplianceApi>;
}

/** Where a run reads and writes: the real process, or streams in a test. */
export interface CliIo {
  argv: string[];
  env: Env;
  cwd: string;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Told the size of every chunk uploaded or downloaded; set only by the binary's entry (runtime.ts). */
  onChunk?: ChunkHook;
}

/** One run of the CLI: its abort controller, what to clean up at the end, and what it has learnt. */
export interface RunControl {
  controller: AbortController;
  cleanups: Array<() => Promise<void> | void>;
  log?: Log;
  /** The command being run (e.g. `all`), once commander has chosen it. */
  command?: string;
}

/** The Context of one command run, from its flags (global ones included) and the process's streams. */
export function buildContext(io: CliIo, run: RunControl, flags: GlobalFlags): Context {
  const env = loadEnv(io.cwd, io.env);
  const log = createLog({ policy: terminalPolicy(flags, env, Boolean(io.stderr.isTTY)), stderr: io.stderr });
  run.log = log;
  let api: Promise<ComplianceApi> | undefined;
  const ctx: Context = {
    flags,
    env,
    cwd: io.cwd,
    stdin: io.stdin,
    stdout: io.stdout,
    stderr: io.stderr,
    log,
    signal: run.controller.signal,
    api: () => (api ??= createApi(ctx, run, io.env, io.onChunk)),
  };
  return ctx;
}

async function createApi(ctx: Context, run: RunControl, processEnv: Env, onChunk?: ChunkHook): Promise<ComplianceApi> {
  let apiUrl: string;
  let apiOrigin: string;
  let token: string;
  if (ctx.flags.emulator) {
    const { startEmulator } = await import("./emulator/server.js");
    const flow = ctx.flags.emulatorFlow ?? "storage";
    const emu = await startEmulator({ pollsToComplete: 1, flow });
    run.cleanups.push(() => emu.close());
    ({ apiUrl, apiOrigin } = resolveApiUrl(emu.apiUrl, {}));
    token = emu.token;
    ctx.log.info(`using the built-in emulator at ${emu.apiUrl} (--emulator${flow === "api" ? " --emulator-flow api" : ""}): no request goes to the real X API`);
  } else {
    ({ apiUrl, apiOrigin } = resolveApiUrl(ctx.flags.apiUrl, ctx.env, processEnv, ctx.cwd));
    token = (await resolveToken(ctx.flags, ctx.env, ctx.stdin, (m) => ctx.log.warn(m))).token;
    // The token goes wherever the API URL points, and a .env in the working folder can set it:
    // whenever that is not X's API, say where the requests go. --quiet silences the line, except
    // when the URL came from that .env: the one source a person may not have set themselves.
    if (apiUrl !== DEFAULT_API_URL) {
      const from = apiUrlSource(ctx.flags.apiUrl, ctx.env, processEnv, ctx.cwd);
      ctx.log.note(`using the API at ${apiUrl} (from ${from}), not ${DEFAULT_API_URL}`, { evenIfQuiet: from.endsWith(".env") });
    }
  }
  // Loaded only now (zod and undici take a while), so a missing token is reported at once.
  const { ComplianceApi } = await import("./api/client.js");
  const api = new ComplianceApi(apiUrl, {
    apiOrigin,
    token,
    userAgent: `compliant/${VERSION}`,
    signal: ctx.signal,
    debug: (m) => ctx.log.debug(m),
    onRateLimit: ({ what, waitMs, resetAt }) =>
      ctx.log.warn(`rate-limited while trying to ${what}; waiting ${Math.ceil(waitMs / 1000)} s until ${new Date(resetAt).toISOString().replace(/\.\d+Z$/, "Z")}`),
    onRetry: ({ what, attempt, waitMs, reason }) =>
      ctx.log.warn(`could not ${what} (${reason}); retry ${attempt} in ${(waitMs / 1000).toFixed(1)} s`),
    ...(onChunk ? { onChunk } : {}),
  });
  run.cleanups.push(() => api.close());
  return api;
}
