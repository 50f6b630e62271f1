import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { apiUrlSource, DEFAULT_API_URL, loadEnv, resolveApiUrl, resolveToken, type Env, type GlobalFlags } from "./config.js";
import type { Context } from "./context.js";
import { BrokenPipeError, CliError, EXIT_CODE_HELP, ExitCode, InterruptedError, systemError, UsageError } from "./errors.js";
import { forTerminal } from "./output/escape.js";
import { createLog, type Log } from "./output/log.js";
import { terminalPolicy } from "./output/terminal.js";
import { applyRuntimeTuning, type ChunkHook } from "./runtime.js";
import type { ComplianceApi } from "./api/client.js";
import { registerDatasetCommands } from "./commands/dataset-commands.js";

// Builds the commander program and turns every failure into one line and a documented exit code.
// Command handlers live in commands/ and are imported lazily, so `--help` stays fast.

export const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** What a handler resolves to is ignored by the CLI (`all` returns its summary for the library). */
export type Handler<O> = (opts: O, ctx: Context) => Promise<unknown>;

interface RunState {
  controller: AbortController;
  cleanups: Array<() => Promise<void> | void>;
  log?: Log;
  /** The command being run (e.g. `all`), once commander has chosen it. */
  command?: string;
}

/**
 * A number of seconds from 0.01 to `max`: every wait must fit a timer (Node's hold at most 24.8
 * days; a longer delay fires after 1 ms), and `label` says the upper bound in words when useful.
 */
function seconds(name: string, max: number, label = "") {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} must be a positive number of seconds, like 30 or 0.5.`);
    }
    if (n < 0.01 || n > max) {
      throw new InvalidArgumentError(`${name} must be a number of seconds from 0.01 to ${max}${label}, like 30 or 0.5.`);
    }
    return n;
  };
}

/** Polls more than an hour apart would only delay a result; jobs finish in minutes to hours. */
export const MAX_INTERVAL_S = 3600;
/** Upload URLs last 15 minutes and results about 7 days: no wait needs to outlast that. */
export const MAX_TIMEOUT_S = 7 * 24 * 3600;

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} must be a positive whole number.`);
    }
    return n;
  };
}

const typeOption = () => new Option("-t, --type <type>", "job type").choices(["tweets", "users"]);

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

export function buildProgram(io: CliIo & { state: RunState }): Command {
  const { state } = io;
  const program = new Command("compliant");

  const makeContext = async (cmd: Command): Promise<Context> => {
    const flags = cmd.optsWithGlobals() as GlobalFlags;
    const env = loadEnv(io.cwd, io.env);
    const log = createLog({ policy: terminalPolicy(flags, env, Boolean(io.stderr.isTTY)), stderr: io.stderr });
    state.log = log;
    let api: Promise<ComplianceApi> | undefined;
    const ctx: Context = {
      flags,
      env,
      cwd: io.cwd,
      stdin: io.stdin,
      stdout: io.stdout,
      stderr: io.stderr,
      log,
      signal: state.controller.signal,
      api: () => (api ??= createApi(ctx, state, io.env, io.onChunk)),
    };
    return ctx;
  };

  /** Commander action → lazily loaded handler with `{...options, args}` and a Context. */
  const action =
    <O>(load: () => Promise<Handler<O>>) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      state.command = cmd.name();
      checkInputs(cmd.name(), cmd.optsWithGlobals(), cmd.args, io.cwd);
      const ctx = await makeContext(cmd);
      const handler = await load();
      await handler({ ...cmd.optsWithGlobals(), args: cmd.args } as O, ctx);
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
    );

  program
    .command("create")
    .description("create a compliance job and print it (its id first)")
    .addOption(typeOption().makeOptionMandatory())
    .option("-n, --name <name>", "a label for the job (at most 64 characters)")
    .option("--resumable", "ask for a resumable upload URL (for very large or flaky uploads)")
    .addHelpText("after", "\nExample:\n  job=$(compliant create --type tweets --name nightly) && compliant upload \"$job\" ids.txt\n")
    .action(action(async () => (await import("./commands/create.js")).run));

  program
    .command("list")
    .description("list recent jobs (both types unless --type is given)")
    .addOption(typeOption())
    .addOption(new Option("-s, --status <status>", "only jobs with this status").choices(["created", "in_progress", "complete", "failed", "expired"]))
    .option("-n, --name <name>", "only jobs with this name")
    .addHelpText("after", "\nExamples:\n  compliant list\n  compliant list --type users --status complete --json | jq -r '.[].id'\n")
    .action(action(async () => (await import("./commands/list.js")).run));

  program
    .command("status")
    .description("show one job; with --wait, poll until it is complete, failed or expired")
    .argument("<job>", "job id, or job name (the newest job with that name)")
    .option("-w, --wait", "poll until the job is complete, failed or expired (exit 6 if it failed or expired)")
    .option("-i, --interval <seconds>", `seconds between polls with --wait (0.01 to ${MAX_INTERVAL_S})`, seconds("--interval", MAX_INTERVAL_S))
    .option("--timeout <seconds>", `give up waiting after this many seconds (exit 7; 0.01 to ${MAX_TIMEOUT_S}, 7 days)`, seconds("--timeout", MAX_TIMEOUT_S, " (7 days)"))
    .addHelpText("after", "\nExamples:\n  compliant status 1460694452490674183\n  compliant status nightly --wait --interval 60 --timeout 7200\n")
    .action(action(async () => (await import("./commands/status.js")).run));

  program
    .command("upload")
    .description("validate an ID file and upload it to a job created with `compliant create`")
    .argument("<job>", "job id or name")
    .argument("[ids-file]", "ID file (same as --ids-file)")
    .option("-i, --ids-file <path>", "file of Post or user IDs, one per line (- for stdin)")
    .option("--dedupe", "drop repeated IDs before uploading")
    .addHelpText("after", "\nExamples:\n  compliant upload nightly ids.txt\n  sort -u ids.txt | compliant upload nightly -\n")
    .action(action(async () => (await import("./commands/upload.js")).run));

  program
    .command("download")
    .description("download a complete job's results (NDJSON) to a file or stdout")
    .argument("<job>", "job id or name")
    .argument("[results-file]", "where to write the results (same as --results-file)")
    .option("-o, --results-file <path>", "results file, or - for stdout")
    .option("-f, --force", "overwrite an existing results file")
    .addHelpText("after", "\nExamples:\n  compliant download nightly results.ndjson\n  compliant download nightly - | jq -r 'select(.action==\"delete\") | .id'\n")
    .action(action(async () => (await import("./commands/download.js")).run));

  program
    .command("all")
    .description("create a job, upload IDs, wait, download the results and print a summary (safe to re-run: it resumes)")
    .addOption(typeOption().makeOptionMandatory())
    .option("-n, --name <name>", "a label for the job")
    .option("-i, --ids-file <path>", "file of Post or user IDs, one per line (- for stdin)")
    .option("-o, --results-file <path>", "where to write the NDJSON results (- for stdout)")
    .option("--interval <seconds>", `seconds between status polls (0.01 to ${MAX_INTERVAL_S}; default 30, 1 with --emulator)`, seconds("--interval", MAX_INTERVAL_S))
    .option("--timeout <seconds>", `stop waiting after this many seconds (exit 7; the next run resumes; 0.01 to ${MAX_TIMEOUT_S}, 7 days)`, seconds("--timeout", MAX_TIMEOUT_S, " (7 days)"))
    .option("--dedupe", "drop repeated IDs before uploading")
    .option("--max-ids-per-job <n>", "split larger inputs into sequential jobs (default: what fits in 128 MB)", positiveInt("--max-ids-per-job"))
    .option("--resumable", "use resumable uploads")
    .option("--wait-for-active", "if a job of this type is already active, wait for it to end, then go on")
    .option("-f, --force", "overwrite an existing results file")
    .option("--no-resume", "ignore saved state and start a new job")
    .addHelpText(
      "after",
      `
Examples:
  compliant all --type tweets --ids-file ids.txt --results-file results.ndjson
  seq 1000 1099 | compliant all --emulator --type users --ids-file - --results-file - | jq .
  # crontab: every night at 03:17, resume-safe, plain timestamped log lines
  17 3 * * * cd /data && compliant all --type tweets --name nightly -i ids.txt -o results.ndjson --force >>compliant.log 2>&1
`,
    )
    .action(action(async () => (await import("./commands/all.js")).run));

  program
    .command("cancel")
    .description("cancel a job (DELETE /2/compliance/jobs/:id, where the API supports it)")
    .argument("<job>", "job id or name")
    .action(action(async () => (await import("./commands/cancel.js")).run));

  program
    .command("emulator")
    .description("run the local X compliance API emulator until interrupted; prints its URL and token")
    .option("-p, --port <n>", "API port (default: a free port)", positiveInt("--port"))
    .addOption(new Option("--flow <flow>", "upload/download URLs: signed storage URLs or API-origin byte paths").choices(["storage", "api"]).default("storage"))
    .option("--polls <n>", "status polls before a job completes", positiveInt("--polls"), 1)
    .addHelpText("after", "\nExample:\n  compliant emulator --port 8787 > emulator.env &  sleep 1; set -a; . ./emulator.env; set +a; compliant list\n")
    .action(action(async () => (await import("./commands/emulator.js")).run));

  registerDatasetCommands(program, action);
  return program;
}

async function createApi(ctx: Context, state: RunState, processEnv: Env, onChunk?: ChunkHook): Promise<ComplianceApi> {
  let apiUrl: string;
  let apiOrigin: string;
  let token: string;
  if (ctx.flags.emulator) {
    const { startEmulator } = await import("./emulator/server.js");
    const emu = await startEmulator({ pollsToComplete: 1 });
    state.cleanups.push(() => emu.close());
    ({ apiUrl, apiOrigin } = resolveApiUrl(emu.apiUrl, {}));
    token = emu.token;
    ctx.log.info(`using the built-in emulator at ${emu.apiUrl} (--emulator): no request goes to the real X API`);
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
  state.cleanups.push(() => api.close());
  return api;
}

/**
 * Inputs that could leak the token: stdin can be read once, so a token read from it
 * (`--token-file -`) and IDs, results or a dataset read from it would split one stream between
 * them (and an ID error would echo the token); an input that is the token file or the working
 * folder's `.env` would have its lines quoted in error messages. All are refused before anything
 * is read.
 */
function checkInputs(command: string, opts: Record<string, unknown>, args: string[], cwd: string): void {
  const tokenFile = typeof opts.tokenFile === "string" ? opts.tokenFile : undefined;
  const inputs: Array<[string, unknown]> = [
    ["--ids-file", opts.idsFile],
    ["--results", opts.results],
  ];
  if (command === "upload") inputs.push(["the ID file argument", args[1]]);
  if (command === "ids" || command === "apply") inputs.push(["the dataset argument", args[0]]);
  if (command === "report") inputs.push(["the results file argument", args[0]]);
  const dotEnv = resolve(cwd, ".env");
  for (const [what, value] of inputs) {
    if (typeof value !== "string") continue;
    if (tokenFile === "-" && value === "-") {
      throw new UsageError(
        `--token-file - and ${what} - both read stdin, which can be read only once; put the token in a file (--token-file <path>) or in X_BEARER_TOKEN, and keep stdin for the ${what === "--ids-file" || what === "the ID file argument" ? "IDs" : "data"}.`,
      );
    }
    if (value === "-") continue;
    if (tokenFile !== undefined && tokenFile !== "-" && resolve(cwd, tokenFile) === resolve(cwd, value)) {
      throw new UsageError(`--token-file and ${what} are the same file (${value}); the token file must hold only the token.`);
    }
    if (resolve(cwd, value) === dotEnv) {
      throw new UsageError(`${what} ${value} is the .env file, which holds settings such as the bearer token; pass the file of IDs or data instead.`);
    }
  }
}

/** Runs the CLI and resolves to the exit code; never calls process.exit itself. */
export async function main(io: CliIo & { state?: RunState }): Promise<number> {
  const state: RunState = io.state ?? { controller: new AbortController(), cleanups: [] };
  // A failing stdout (its reader went away, or the disk behind it is full) stops the run at once:
  // the controller's reason tells every request, poll and stream, and `finally` blocks still run.
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (state.controller.signal.aborted) return;
    state.controller.abort(err?.code === "EPIPE" ? new BrokenPipeError() : (systemError(err, { where: "stdout", resumes: state.command === "all" }) ?? err));
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

function report(err: unknown, io: { stderr: NodeJS.WritableStream; argv: string[] }, state: RunState): number {
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
  error = systemError(error, { resumes: state.command === "all" }) ?? error;
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
  const state: RunState = { controller: new AbortController(), cleanups: [] };
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
