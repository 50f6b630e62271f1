import { readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseEnv } from "node:util";
import { UsageError } from "./errors.js";

export const DEFAULT_API_URL = "https://api.x.com";

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
  /** With --emulator: signed storage URLs (default), or the API's own byte paths. */
  emulatorFlow?: "storage" | "api";
  stateDir?: string;
}

export interface ApiTarget {
  apiUrl: string;
  apiOrigin: string;
}

/**
 * The API base URL from --api-url, X_API_BASE_URL (environment or .env) or the default. The bearer
 * token is sent there, so plain `http:` is accepted only for a loopback address (127.0.0.0/8,
 * ::1, localhost): anything else would carry the token across a network unencrypted.
 */
export function resolveApiUrl(flag: string | undefined, env: Env, processEnv?: Env, cwd?: string): ApiTarget {
  const raw = flag ?? env.X_API_BASE_URL ?? DEFAULT_API_URL;
  const from = () => (processEnv ? ` (from ${apiUrlSource(flag, env, processEnv, cwd)})` : "");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`the API URL ${JSON.stringify(raw)}${from()} is not a valid URL; pass --api-url like https://api.x.com.`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`the API URL ${raw}${from()} must start with https:// or http://.`);
  }
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    throw new UsageError(
      `the API URL ${url.origin}${from()} is plain http, which would send the bearer token unencrypted; use https:// (plain http is accepted only for loopback addresses such as 127.0.0.1 or localhost).`,
    );
  }
  const apiUrl = url.origin + url.pathname.replace(/\/+$/, "");
  return { apiUrl, apiOrigin: url.origin };
}

/** 127.0.0.0/8, ::1 and localhost: a server on this machine. */
function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost") || host === "::1") return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m !== null && m.slice(1).every((n) => Number(n) <= 255);
}

/** Where the API URL came from, for messages: `--api-url`, `X_API_BASE_URL`, `.env`, or the default. */
export function apiUrlSource(flag: string | undefined, env: Env, processEnv: Env, cwd?: string): string {
  if (flag !== undefined) return "--api-url";
  if (processEnv.X_API_BASE_URL !== undefined) return "X_API_BASE_URL in the environment";
  if (env.X_API_BASE_URL !== undefined) return `X_API_BASE_URL in ${cwd ? join(cwd, ".env") : ".env"}`;
  return "the default";
}

export interface TokenSource {
  token: string;
  source: string;
}

/**
 * Token from --token-file (or - for stdin), else X_BEARER_TOKEN, else BEARER_TOKEN. `warn` hears
 * about a token file other users can read.
 */
export async function resolveToken(
  flags: GlobalFlags,
  env: Env,
  stdin: NodeJS.ReadableStream,
  warn: (message: string) => void = () => undefined,
): Promise<TokenSource> {
  if (flags.tokenFile !== undefined) {
    const file = flags.tokenFile;
    let text: string;
    let exposed: string | undefined;
    try {
      if (file === "-") {
        text = await readAll(stdin);
      } else {
        text = await readFile(file, "utf8");
        const mode = (await stat(file)).mode;
        if (mode & 0o077) {
          const octal = (mode & 0o777).toString(8).padStart(3, "0");
          exposed = `the token file ${file} can be read or written by other users (mode ${octal}); restrict it with chmod 600 ${file}`;
        }
      }
    } catch (err) {
      throw new UsageError(`cannot read the token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check the path passed to --token-file.`);
    }
    const shownAs = file === "-" ? "the token from stdin (--token-file -)" : `the token file ${file}`;
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
    if (lines.length === 0) throw new UsageError(`${shownAs} is empty; put your App's bearer token in it.`);
    if (lines.length > 1) {
      throw new UsageError(`${shownAs} has more than one line; a bearer token is one line, so put only the token in it.`);
    }
    const token = checkToken(lines[0]!.trim(), shownAs);
    if (exposed) warn(exposed);
    return { token, source: "--token-file" };
  }
  for (const name of ["X_BEARER_TOKEN", "BEARER_TOKEN"] as const) {
    const value = env[name]?.trim();
    if (value) {
      if (/[\r\n]/.test(value)) {
        throw new UsageError(`the token in ${name} has more than one line; a bearer token is one line, so set ${name} to the token alone.`);
      }
      return { token: checkToken(value, `the token in ${name}`), source: name };
    }
  }
  throw new UsageError(
    "no bearer token found; set X_BEARER_TOKEN (or BEARER_TOKEN) in the environment or .env, pass --token-file, or try the local emulator with --emulator.",
  );
}

/**
 * A bearer token is printable ASCII without spaces (RFC 6750's b64token, plus the `%` escapes X's
 * tokens carry). Anything else cannot go in an Authorization header, so it is a usage error now
 * rather than a request failure later. The token itself is never shown.
 */
export function checkToken(token: string, shownAs: string): string {
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) {
      const what = c === 0x20 ? "a space" : c < 0x20 || c === 0x7f ? "a control character" : "a non-ASCII character";
      throw new UsageError(`${shownAs} has ${what} at position ${i + 1}; a bearer token is one line of printable ASCII, so check that it was copied whole and alone.`);
    }
  }
  return token;
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
