import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { CliError, ExitCode, UsageError } from "./errors.js";

// A small record per `all` run, so running the same command again after a crash, a kill or a
// --timeout continues the existing job instead of creating another (one active job per type).

export type PartStage = "pending" | "created" | "uploaded" | "complete" | "downloaded";

export interface PartState {
  index: number;
  ids: number;
  stage: PartStage;
  jobId?: string;
  /** A resumable upload session, so an interrupted upload continues. */
  session?: string;
  /** Bytes of this part's results in the .partial file, once downloaded. */
  resultBytes?: number;
  /** SHA-256 of those bytes as they were written, checked before they are counted or built on. */
  resultSha256?: string;
  /**
   * While downloading: the whole lines of job `jobId`'s results written to the .partial so far
   * (after the earlier parts), and their SHA-256; a later run continues the file only if it still
   * holds exactly these bytes.
   */
  partial?: { jobId: string; bytes: number; sha256: string };
}

export interface RunState {
  version: 1;
  key: string;
  type: string;
  name: string;
  idsSha256: string;
  resultsFile: string;
  startedAt: string;
  updatedAt: string;
  parts: PartState[];
}

/** Keyed by type, name and the ID file's content, as the issue asks. */
export function runKey(apiUrl: string, type: string, name: string, idsSha256: string, maxIdsPerJob: number | undefined): string {
  // The API is part of the key: a job id saved against one API (or an emulator) means nothing on another.
  return createHash("sha256").update(`${apiUrl}\0${type}\0${name}\0${idsSha256}\0${maxIdsPerJob ?? ""}`).digest("hex").slice(0, 24);
}

export class StateStore {
  readonly file: string;
  readonly lockFile: string;

  constructor(
    readonly dir: string,
    readonly key: string,
  ) {
    this.file = join(dir, `${key}.json`);
    this.lockFile = join(dir, `${key}.lock`);
  }

  async load(): Promise<RunState | undefined> {
    try {
      const parsed = JSON.parse(await readFile(this.file, "utf8")) as RunState;
      return parsed.version === 1 && parsed.key === this.key ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Atomic: write a temp file, then rename over the old record. Saves are serialised (a caller
   * may fire one without awaiting it), so an older snapshot never lands after a newer one and two
   * saves never share a temp file.
   */
  save(state: RunState): Promise<void> {
    const text = () => {
      state.updatedAt = new Date().toISOString();
      return `${JSON.stringify(state, null, 2)}\n`;
    };
    const next = this.saving.catch(() => undefined).then(async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}-${++this.saves}.tmp`;
      try {
        await writeFile(tmp, text(), { mode: 0o600 });
        await rename(tmp, this.file);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
    });
    this.saving = next;
    return next;
  }

  private saving: Promise<void> = Promise.resolve();
  private saves = 0;

  /** Removes the record and any temp file a killed process left half-written. */
  async remove(): Promise<void> {
    await this.saving.catch(() => undefined);
    await unlink(this.file).catch(() => undefined);
    const prefix = `${this.key}.json.`;
    const left = await readdir(this.dir).catch(() => [] as string[]);
    await Promise.all(left.filter((f) => f.startsWith(prefix) && f.endsWith(".tmp")).map((f) => unlink(join(this.dir, f)).catch(() => undefined)));
  }

  /**
   * Takes the run's lock, refusing while another live process holds it. A lock whose process is
   * gone (crash, kill -9, reboot) is stale and taken over.
   */
  async lock(describe: string): Promise<() => Promise<void>> {
    await makeStateDir(this.dir);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.lockFile, "wx", 0o600);
        await fh.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() }));
        await fh.close();
        return async () => {
          await unlink(this.lockFile).catch(() => undefined);
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      // The holder creates the file and then writes it: an empty (unreadable) lock may be one
      // being written this very moment, so look again before calling it stale.
      let holder = await this.readLock();
      if (!holder) {
        await new Promise((r) => setTimeout(r, 100));
        holder = await this.readLock();
      }
      if (holder && holder.host === hostname() && typeof holder.pid === "number" && isAlive(holder.pid)) {
        throw new CliError(
          `another \`compliant all\` for ${describe} is already running (pid ${holder.pid}, since ${holder.started}); let it finish, or remove ${this.lockFile} if that process is gone.`,
          ExitCode.transient,
        );
      }
      // Stale (or unreadable) lock: take it over.
      await unlink(this.lockFile).catch(() => undefined);
    }
    throw new CliError(`could not take the lock ${this.lockFile}; remove it if no other compliant run is active.`, ExitCode.transient);
  }

  private async readLock(): Promise<{ pid?: number; host?: string; started?: string } | undefined> {
    return readFile(this.lockFile, "utf8").then(
      (t) => JSON.parse(t) as { pid?: number; host?: string; started?: string },
      () => undefined,
    ).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Creates the state folder one level at a time (not `mkdir -p`: Node's recursive mkdir spins for
 * ever on paths such as /proc/x), turning any failure into a usage error that names the folder.
 */
async function makeStateDir(dir: string): Promise<void> {
  const parts = dir.split("/").filter(Boolean);
  let path = dir.startsWith("/") ? "" : ".";
  for (const part of parts) {
    path = `${path}/${part}`;
    try {
      await mkdir(path, { mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        const isDir = await stat(path).then((s) => s.isDirectory(), () => false);
        if (isDir) continue;
      }
      throw new UsageError(
        `cannot use ${dir} as the state folder (${code === "EEXIST" ? `${path} is not a folder` : (code ?? (err as Error).message)}); pass --state-dir with a writable folder, or set XDG_STATE_HOME.`,
      );
    }
  }
}
