import type { Context } from "../context.js";
import { runEmulator } from "../emulator/main.js";

export interface EmulatorCommandOptions {
  port?: number;
  flow?: "storage" | "api";
  polls?: number;
}

/** `compliant emulator`: serves the local emulator until SIGINT/SIGTERM. */
export async function run(opts: EmulatorCommandOptions, ctx: Context): Promise<void> {
  await runEmulator({ port: opts.port, flow: opts.flow, polls: opts.polls }, { stdout: ctx.stdout, stderr: ctx.stderr, signal: ctx.signal });
}
