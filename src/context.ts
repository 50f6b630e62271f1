import type { ComplianceApi } from "./api/client.js";
import type { Env, GlobalFlags } from "./config.js";
import type { Log } from "./output/log.js";

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
