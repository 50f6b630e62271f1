import type { Context } from "../context.js";
import { runEmulator } from "../emulator/main.js";
import { UsageError } from "../errors.js";

export interface EmulatorCommandOptions {
  port?: number;
  flow?: "storage" | "api";
  polls?: number;
}

/** `compliant emulator`: serves the local emulator until SIGINT/SIGTERM. */
export async function run(opts: EmulatorCommandOptions, ctx: Context): Promise<void> {
  if (opts.port !== undefined && opts.port > 65535) {
    throw new UsageError(`--port ${opts.port} is not a TCP port; choose one from 1 to 65535, or leave it out for a free one.`);
  }
  try {
    await runEmulator({ port: opts.port, flow: opts.flow, polls: opts.polls }, { stdout: ctx.stdout, stderr: ctx.stderr, signal: ctx.signal });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" || code === "EACCES") {
      throw new UsageError(`cannot listen on port ${opts.port} (${code === "EADDRINUSE" ? "it is in use" : "permission denied"}); choose another --port, or leave it out for a free one.`);
    }
    throw err;
  }
}
