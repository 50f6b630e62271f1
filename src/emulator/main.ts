// `compliant emulator`: runs the local emulator until the signal aborts.
// stdout gets `eval`-able assignments; the human note goes to stderr.

import { startEmulator } from "./server.js";

export interface RunEmulatorOptions {
  port?: number;
  storagePort?: number;
  flow?: "storage" | "api";
  polls?: number;
  token?: string;
  /** EmulatorOptions.octetStreamOnly (default true). */
  octetStreamOnly?: boolean;
  /** EmulatorOptions.cancelToFailed (default true). */
  cancelToFailed?: boolean;
}

export interface RunEmulatorIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  signal: AbortSignal;
}

export async function runEmulator(opts: RunEmulatorOptions, io: RunEmulatorIo): Promise<void> {
  const flow = opts.flow ?? "storage";
  const polls = opts.polls ?? 1;
  const emu = await startEmulator({
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.storagePort !== undefined ? { storagePort: opts.storagePort } : {}),
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    flow,
    pollsToComplete: polls,
    ...(opts.octetStreamOnly !== undefined ? { octetStreamOnly: opts.octetStreamOnly } : {}),
    ...(opts.cancelToFailed !== undefined ? { cancelToFailed: opts.cancelToFailed } : {}),
  });
  try {
    io.stdout.write(`X_API_BASE_URL=${emu.apiUrl}\nX_BEARER_TOKEN=${emu.token}\n`);
    io.stderr.write(
      `compliant emulator: API ${emu.apiUrl}, ${flow === "storage" ? `signed storage URLs on ${emu.storageUrl}` : "uploads and downloads on the API origin"}; ` +
        `jobs complete after ${polls} status poll${polls === 1 ? "" : "s"}. ` +
        (flow === "storage"
          ? `Result rule: ID mod 100 = 0-4 deleted, 5-6 protected, 7-8 suspended, 9 scrub_geo/deactivated. `
          : `Result rule: ID mod 100 = 0-4 deleted, 5-6 protected, 7-8 suspended, 9 scrub_geo (tweets) or deactivated (users), ` +
            `10 bounced (tweets) or scrub_geo (users), 11 rehydrate (tweets), 12-15 two lines for one ID; 0 and IDs above 2^63-1 are invalid_id. `) +
        `Stop with Ctrl-C.\n`,
    );
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) return resolve();
      io.signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    await emu.close();
  }
}
