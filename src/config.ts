import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseEnv } from "node:util";
import { UsageError } from "./errors.js";

export const DEFAULT_API_URL = "https://api.x.com";

/** Every environment variable the tool reads (also listed in .env.example). */
export const ENV_VARS = [
  "X_BEARER_TOKEN",
  "BEARER_TOKEN",
  "X_API_BASE_URL",
  "XDG_STATE_HOME",
  "NO_COLOR",
  "CI",
  "TERM",
] as const;

export type Env = Record<string, string | undefined>;

/**
 * The environment the tool sees: the real environment wins over a `.env` file in the working
 * directory (clig.dev "Configuration"). Nothing else reads process.env.
 */
export function loadEnv(cwd: string, processEnv: Env): Env {
  let fileEnv: Env = {};
  try {
    fileEnv = parseEnv(readFileSync(join(cwd, ".env"), "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new UsageError(`cannot read .env in ${cwd}: ${(err as Error).message}; fix or remove the file.`);
    }
  }
  return { ...fileEnv, ...processEnv };
}

export interface GlobalFlags {
  apiUrl?: string;
  tokenFile?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  emulator?: boolean;
  stateDir?: string;
}

export interface ApiTarget {
  apiUrl: string;
  apiOrigin: string;
}

export function resolveApiUrl(flag: string | undefined, env: Env): ApiTarget {
  const raw = flag ?? env.X_API_BASE_URL ?? DEFAULT_API_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`the API URL ${JSON.stringify(raw)} is not a valid URL; pass --api-url like https://api.x.com.`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`the API URL ${raw} must start with https:// or http://.`);
  }
  const apiUrl = url.origin + url.pathname.replace(/\/+$/, "");
  return { apiUrl, apiOrigin: url.origin };
}

export interface TokenSource {
  token: string;
  source: string;
}

/** Token from --token-file (or - for stdin), else X_BEARER_TOKEN, else BEARER_TOKEN. */
export async function resolveToken(flags: GlobalFlags, env: Env, stdin: NodeJS.ReadableStream): Promise<TokenSource> {
  if (flags.tokenFile !== undefined) {
    let text: string;
    try {
      text = flags.tokenFile === "-" ? await readAll(stdin) : await readFile(flags.tokenFile, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read the token file ${flags.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check the path passed to --token-file.`);
    }
    const token = text.trim();
    if (!token) throw new UsageError(`the token file ${flags.tokenFile} is empty; put your App's bearer token in it.`);
    return { token, source: "--token-file" };
  }
  for (const name of ["X_BEARER_TOKEN", "BEARER_TOKEN"] as const) {
    const value = env[name]?.trim();
    if (value) return { token: value, source: name };
  }
  throw new UsageError(
    "no bearer token found; set X_BEARER_TOKEN (or BEARER_TOKEN) in the environment or .env, pass --token-file, or try the local emulator with --emulator.",
  );
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** Where resumable run state lives: --state-dir, else $XDG_STATE_HOME/compliant, else ~/.local/state/compliant. */
export function resolveStateDir(flag: string | undefined, env: Env): string {
  if (flag) return resolve(flag);
  const base = env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(base, "compliant");
}
