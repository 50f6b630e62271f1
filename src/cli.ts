import { Command, CommanderError, Option } from "commander";
import type { GlobalFlags } from "./config.js";
import type { CliIo, RunControl } from "./context.js";
import { BrokenPipeError, CliError, EXIT_CODE_HELP, ExitCode, InterruptedError, systemError } from "./errors.js";
import { forTerminal } from "./output/escape.js";
import { applyRuntimeTuning } from "./runtime.js";
import { VERSION } from "./version.js";
import { checkInputs, globalFlags, usageFromZod, type On } from "./commands/options.js";
import * as all from "./commands/all.js";
import * as apply from "./commands/apply.js";
import * as cancel from "./commands/cancel.js";
import * as completion from "./commands/completion.js";
import * as create from "./commands/create.js";
import * as download from "./commands/download.js";
import * as emulator from "./commands/emulator.js";
import * as history from "./commands/history.js";
import * as ids from "./commands/ids.js";
import * as list from "./commands/list.js";
import * as reportCommand from "./commands/report.js";
import * as status from "./commands/status.js";
import * as sync from "./commands/sync.js";
import * as upload from "./commands/upload.js";

// The program (global flags, the commands in the order --help lists them), the exit mapping and
// the process entry. Each command file holds its own definition and options schema; what a
// command does is loaded only when it runs, so `--help` stays fast.

export { VERSION };
export type { CliIo };

const COMMANDS = [create, list, status, upload, download, all, cancel, emulator, ids, reportCommand, apply, sync, history, completion];

export function buildProgram(io: CliIo & { state: RunControl }): Command {
  const { state } = io;
  const program = new Command("compliant");

  /** Commander action → options checked by the command's schema → the handler, with a Context. */
  const on: On = (schema, handler) => async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    state.command = cmd.name();
    const raw = { ...cmd.optsWithGlobals(), args: cmd.args };
    checkInputs(cmd.name(), raw, cmd.args, io.cwd);
    const { z } = await import("zod");
    const checked = globalFlags(z).safeParse(raw);
    if (!checked.success) throw usageFromZod(checked.error);
    const flags: GlobalFlags = checked.data;
    // Loaded only for a command that runs (its log, terminal policy and settings), not for --help.
    const { buildContext } = await import("./context.js");
    const ctx = buildContext(io, state, flags);
    const parsed = schema(z).safeParse(raw);
    if (!parsed.success) throw usageFromZod(parsed.error);
    await handler(parsed.data, ctx);
  };

  program
    .name("compliant")
    .description(
      "Check stored Post and user IDs against the X API v2 batch compliance endpoints: create a job, upload IDs, wait, download the results, and apply them to your archive.",
    )
    .version(VERSION, "-V, --version", "print the version")
    .option("--api-url <url>", "API base URL (default: $X_API_BASE_URL or https://api.x.com; plain http only for loopback such as 127.0.0.1)")
    .option("--token-file <path>", "read the bearer token from a file (- for stdin) instead of $X_BEARER_TOKEN/$BEARER_TOKEN")
    .option("--emulator", "start the built-in local emulator for this run and talk to it (no real API calls)")
    .addOption(
      new Option("--emulator-flow <flow>", "with --emulator: signed storage URLs (default), or the API's own byte paths as in OpenAPI 2.168 (?token= URLs, octet-stream, resumable refused, DELETE makes a job failed, the newer result lines)").choices(["storage", "api"]),
    )
    .option("--state-dir <dir>", "where `all` keeps resumable run state (default: $XDG_STATE_HOME/compliant)")
    .option("--json", "print one JSON document on stdout instead of human output")
    .option("-q, --quiet", "print only errors on stderr")
    .option("-v, --verbose", "print redacted request logs on stderr")
    .showHelpAfterError("(add --help to the command for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(s.startsWith("error:") ? `compliant: ${s.slice(7)}` : s),
    })
    .addHelpText(
      "after",
      `
Examples:
  seq 1000 1199 | compliant all --emulator --type tweets --ids-file - --results-file results.ndjson --force
  compliant create --type users --name nightly
  compliant upload nightly user-ids.txt
  compliant status nightly --wait
  compliant download nightly results.ndjson
  compliant ids archive.jsonl | compliant all --type tweets --ids-file - --results-file results.ndjson
  compliant apply --results results.ndjson archive.jsonl -o archive.clean.jsonl

Configuration: X_BEARER_TOKEN (or BEARER_TOKEN), X_API_BASE_URL, XDG_STATE_HOME, NO_COLOR; a .env
file in the working directory is read too (the real environment wins).

${EXIT_CODE_HELP}
`,
    );;
  // addCommand() does not pass the program's settings on (exitOverride, output, help after errors).
  for (const command of COMMANDS) program.addCommand(command.define(on).copyInheritedSettings(program));
  return program;
}

/** Runs the CLI and resolves to the exit code; never calls process.exit itself. */
export async function main(io: CliIo & { state?: RunControl }): Promise<number> {
  const state: RunControl = io.state ?? { controller: new AbortController(), cleanups: [] };
  // A failing stdout (its reader went away, or the disk behind it is full) stops the run at once:
  // the controller's reason tells every request, poll and stream, and `finally` blocks still run.
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (state.controller.signal.aborted) return;
    state.controller.abort(err?.code === "EPIPE" ? new BrokenPipeError() : (systemError(err, { where: "stdout", resumes: state.command === "all" || state.command === "sync" }) ?? err));
  };
  io.stdout.on?.("error", onStdoutError);
  const program = buildProgram({ ...io, state });
  let code: number = ExitCode.ok;
  try {
    await program.parseAsync(io.argv, { from: "user" });
    // A write error is reported on a later tick than the write itself: let it surface first.
    await new Promise((r) => setImmediate(r));
    // A run that ended normally after a signal (e.g. the emulator) still reports the interruption,
    // and one whose stdout failed has not delivered its output.
    const reason = state.controller.signal.reason as unknown;
    if (reason instanceof InterruptedError) code = reason.exitCode;
    else if (reason instanceof CliError) code = report(reason, io, state);
  } catch (err) {
    code = report(err, io, state);
  } finally {
    state.log?.done();
    for (const cleanup of state.cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Cleanup failures must not hide the real outcome.
      }
    }
  }
  return code;
}

function report(err: unknown, io: { stderr: NodeJS.WritableStream; argv: string[] }, state: RunControl): number {
  const verbose = io.argv.includes("-v") || io.argv.includes("--verbose");
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
    // `compliant help [command]` exits 0; the help commander prints to stderr when no command was
    // given (its exitCode 1) is a usage error like any other, so scripts see exit 2, not success.
    if (err.code === "commander.help" && err.exitCode === 0) return 0;
    // Commander already printed its message; usage errors exit 2, not commander's 1.
    return ExitCode.usage;
  }
  const aborted = state.controller.signal.aborted ? (state.controller.signal.reason as unknown) : undefined;
  let error = err;
  if (aborted instanceof InterruptedError) {
    if (!(err instanceof CliError && err !== aborted)) error = aborted;
  } else if (aborted instanceof CliError) {
    // stdout failed: whatever the run threw afterwards is a consequence of that.
    error = aborted;
  }
  // A file-system failure (full disk, read-only or refused path) is not a bug: say what to do.
  error = systemError(error, { resumes: state.command === "all" || state.command === "sync" }) ?? error;
  state.log?.done();
  if (error instanceof CliError) {
    // One line: any control character in it (a server's words, a file name) is shown, not obeyed.
    io.stderr.write(`compliant: ${forTerminal(error.message)}\n`);
    if (verbose && error.cause instanceof Error) io.stderr.write(`${error.cause.stack ?? error.cause.message}\n`);
    return error.exitCode;
  }
  if (isAbort(error) && aborted instanceof InterruptedError) {
    io.stderr.write(`compliant: ${aborted.message}\n`);
    return aborted.exitCode;
  }
  const e = error as Error;
  io.stderr.write(`compliant: internal error: ${forTerminal(e?.message ?? String(error))}\n`);
  io.stderr.write(`This is a bug; please report it with the command you ran (compliant ${VERSION}, Node ${process.version}).\n`);
  if (verbose && e?.stack) io.stderr.write(`${e.stack}\n`);
  return ExitCode.internal;
}

function isAbort(err: unknown): boolean {
  return (err as { name?: string })?.name === "AbortError" || err instanceof InterruptedError;
}

/**
 * The binary's entry point: bin/compliant.js imports this module and calls it, so the CLI runs
 * whatever the name or path it was started by (a symlink, a copy, `node bin/compliant.js`), and
 * importing the module does nothing.
 */
export async function runBinary(): Promise<void> {
  // V8 flags and paced collections for the binary only (COMPLIANT_NO_V8_TUNING=1 switches them off).
  const onChunk = applyRuntimeTuning(process.env);
  const state: RunControl = { controller: new AbortController(), cleanups: [] };
  // If the event loop ever empties while the run is still pending (something waited for an event
  // that never came), the process must not exit 0 as if all went well.
  // (Not by presetting process.exitCode: commander reads it for the exit code of `help`.)
  let finished = false;
  process.on("exit", () => {
    if (finished) return;
    process.exitCode = ExitCode.internal;
    process.stderr.write(`compliant: internal error: the run stopped before it finished.\nThis is a bug; please report it with the command you ran (compliant ${VERSION}, Node ${process.version}).\n`);
  });
  let signals = 0;
  const onSignal = (signal: "SIGINT" | "SIGTERM") => {
    signals++;
    if (signals > 1) {
      // A second signal: stop now, as asked.
      finished = true;
      process.exit(signal === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm);
    }
    state.controller.abort(new InterruptedError(signal));
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  const code = await main({
    argv: process.argv.slice(2),
    env: process.env,
    cwd: process.cwd(),
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    state,
    ...(onChunk ? { onChunk } : {}),
  });
  finished = true;
  process.exitCode = code;
  // Don't wait for stray handles (e.g. stdin) once the work is done.
  setTimeout(() => process.exit(code), 50).unref();
}
