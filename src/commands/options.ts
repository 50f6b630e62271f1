import { resolve } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import type { z } from "zod";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";

// What every command file shares: the option parsers commander runs, the zod schema each command
// declares its options with, and the one place a schema's failure becomes a usage error (exit 2).
// This module is loaded at start-up (for --help), so it imports zod's types only.

/** The zod namespace, handed to each command's schema when the command runs (zod loads only then). */
export type Zod = typeof z;

/** A command's options schema: built from zod when the command runs, typed at compile time. */
export type Schema<T> = (zod: Zod) => z.ZodType<T>;

/**
 * Turns a command's schema and handler into a commander action: the raw options (with the global
 * flags and the positional `args`) are parsed by the schema, a failure is a UsageError, and the
 * handler gets typed options and the run's Context. cli.ts provides it.
 */
export type On = <T>(schema: Schema<T>, handler: (opts: T, ctx: Context) => Promise<unknown>) => (...args: unknown[]) => Promise<void>;

/** A command file's export: its commander definition, given the action factory. */
export type Define = (on: On) => Command;

/** The first problem a schema found, as one sentence: our own words verbatim, zod's with the option named. */
export function usageFromZod(error: z.ZodError): UsageError {
  const issue = error.issues[0];
  if (!issue) return new UsageError("the options are not valid; see --help.");
  if (issue.code === "custom" || issue.path.length === 0) return new UsageError(issue.message);
  const name = issue.path.map((p) => (typeof p === "string" ? `--${p.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : String(p))).join(" ");
  return new UsageError(`${name}: ${issue.message}`);
}

/** The program's global flags (cli.ts declares them), as every run's Context holds them. */
export const globalFlags = (zod: Zod) =>
  zod.object({
    apiUrl: zod.string().optional(),
    tokenFile: zod.string().optional(),
    json: zod.boolean().optional(),
    quiet: zod.boolean().optional(),
    verbose: zod.boolean().optional(),
    emulator: zod.boolean().optional(),
    emulatorFlow: zod.enum(["storage", "api"]).optional(),
    stateDir: zod.string().optional(),
  })
  .refine((f) => f.emulatorFlow === undefined || f.emulator === true, {
    error: "--emulator-flow chooses the flow of the built-in emulator, so it needs --emulator; add --emulator, or drop --emulator-flow.",
  });

/** Options every command's schema may read: the global flags it uses. */
export const globals = (zod: Zod) => ({
  json: zod.boolean().optional(),
  emulator: zod.boolean().optional(),
  stateDir: zod.string().optional(),
});

/**
 * A value that may come from an option or a positional argument, but not both with different
 * values: a custom issue (its message verbatim) when given twice or not at all.
 */
export function oneOf(ctx: z.RefinementCtx, what: { name: string; option: string; missing: string }, option: string | undefined, positional: string | undefined): string {
  if (option !== undefined && positional !== undefined && option !== positional) {
    ctx.addIssue({ code: "custom", message: `the ${what.name} was given twice (${positional} and ${what.option} ${option}); pass it once.` });
    return "";
  }
  const value = option ?? positional;
  if (value === undefined) {
    ctx.addIssue({ code: "custom", message: what.missing });
    return "";
  }
  return value;
}

export const IDS_FILE = { name: "ID file", option: "--ids-file", missing: "no ID file given; pass --ids-file <path>, or - to read IDs from stdin." };
export const RESULTS_FILE = {
  name: "results file",
  option: "--results-file",
  missing: "no results file given; pass --results-file <path>, or - to write the results to stdout.",
};

/**
 * A number of seconds from 0.01 to `max`: every wait must fit a timer (Node's hold at most 24.8
 * days; a longer delay fires after 1 ms), and `label` says the upper bound in words when useful.
 */
export function seconds(name: string, max: number, label = "") {
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

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} must be a positive whole number.`);
    }
    return n;
  };
}

const JOB_TYPE_CHOICES = ["tweets", "users"] as const;

export const typeOption = (what = "job type") => new Option("-t, --type <type>", what).choices(JOB_TYPE_CHOICES);

/**
 * Inputs that could leak the token: stdin can be read once, so a token read from it
 * (`--token-file -`) and IDs, results or a dataset read from it would split one stream between
 * them (and an ID error would echo the token); an input that is the token file or the working
 * folder's `.env` would have its lines quoted in error messages. All are refused before anything
 * is read.
 */
export function checkInputs(command: string, opts: Record<string, unknown>, args: string[], cwd: string): void {
  const tokenFile = typeof opts.tokenFile === "string" ? opts.tokenFile : undefined;
  const inputs: Array<[string, unknown]> = [
    ["--ids-file", opts.idsFile],
    ["--results", opts.results],
  ];
  if (command === "upload") inputs.push(["the ID file argument", args[1]]);
  if (command === "ids" || command === "apply" || command === "sync") for (const arg of args.length > 0 ? args : [undefined]) inputs.push(["the dataset argument", arg]);
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
