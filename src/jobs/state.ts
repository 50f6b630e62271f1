import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, mkdir, open, readdir, readFile, realpath, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { CliError, ExitCode, systemError, UsageError } from "../errors.js";

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
  /**
   * When this run first sent a create request whose outcome it never learnt (no answer, a cut
   * answer, an ambiguous 5xx, or a kill while it was in flight). Written before the request
   * leaves, so only a job made at or after this moment can be this run's own.
   */
  createAttempt?: string;
  /** The origin of the job's upload URL when it was created: a URL that moves later is not followed. */
  uploadOrigin?: string;
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

const Timestamp = z.iso.datetime({ offset: true });

// Loose objects: fields a newer version adds survive a load and save by this one.
const PartStateSchema = z.looseObject({
  index: z.number().int().min(0),
  ids: z.number().int().min(0),
  stage: z.enum(["pending", "created", "uploaded", "complete", "downloaded"]),
  jobId: z.string().regex(/^[0-9]{1,19}$/).optional(),
  session: z.string().min(1).optional(),
  resultBytes: z.number().int().min(0).optional(),
  createAttempt: Timestamp.optional(),
  uploadOrigin: z.string().min(1).optional(),
});

const RunStateSchema = z.looseObject({
  version: z.literal(1),
  key: z.string(),
  type: z.string(),
  name: z.string(),
  idsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  resultsFile: z.string().min(1),
  startedAt: Timestamp,
  updatedAt: Timestamp,
  parts: z.array(PartStateSchema).min(1),
});

/** Keyed by the API, type, name, the ID file's content and the split. */
export function runKey(apiUrl: string, type: string, name: string, idsSha256: string, maxIdsPerJob: number | undefined): string {
  // The API is part of the key: a job id saved against one API (or an emulator) means nothing on another.
  return createHash("sha256").update(`${apiUrl}\0${type}\0${name}\0${idsSha256}\0${maxIdsPerJob ?? ""}`).digest("hex").slice(0, 24);
}

/** Create-only, never through a symlink, never reusing a file someone else put there. */
const EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

async function writeExclusive(path: string, text: string): Promise<void> {
  const fh = await open(path, EXCLUSIVE, 0o600);
  try {
    await fh.writeFile(text);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  await fh.close();
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

  /**
   * The saved record, or undefined when there is none. A record that cannot be read, is not
   * JSON, or does not have the shape this version writes is refused (exit 2) rather than
   * ignored: ignoring it would forget a job the API may still hold, and trusting it could
   * resume the wrong one.
   */
  async load(): Promise<RunState | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      throw this.damaged(`it cannot be read: ${code ?? (err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.damaged("it is not valid JSON");
    }
    const parsed = RunStateSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.length ? issue.path.join(".") : "the record";
      throw this.damaged(`${where}: ${issue.message}`);
    }
    const state = parsed.data as unknown as RunState;
    if (state.key !== this.key) throw this.damaged(`it records the run ${JSON.stringify(state.key)}, not ${this.key}`);
    state.parts.forEach((p, i) => {
      if (p.index !== i) throw this.damaged(`parts.${i}.index is ${p.index}`);
    });
    return state;
  }

  /** The sentence for a saved record this run cannot use. */
  damaged(why: string): UsageError {
    return new UsageError(
      `the saved state ${this.file} is damaged or not this run's (${why}); remove that file, or pass --no-resume to start a new job for these IDs (a job it recorded is left as it is).`,
    );
  }

  /**
   * Atomic: write a temp file, then rename over the old record. Saves are serialised (a caller
   * may fire one without awaiting it), so an older snapshot never lands after a newer one. Each
   * temp file has an unpredictable name and is created exclusively without following symlinks,
   * so nothing planted in the folder is ever written through.
   */
  save(state: RunState): Promise<void> {
    const text = () => {
      state.updatedAt = new Date().toISOString();
      return `${JSON.stringify(state, null, 2)}\n`;
    };
    const next = this.saving.catch(() => undefined).then(async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${randomBytes(8).toString("hex")}.tmp`;
      await writeExclusive(tmp, text());
      try {
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

  /** Removes the record and any temp file a killed process left half-written. */
  async remove(): Promise<void> {
    await this.saving.catch(() => undefined);
    await unlink(this.file).catch(() => undefined);
    const prefix = `${this.key}.json.`;
    const left = await readdir(this.dir).catch(() => [] as string[]);
    await Promise.all(left.filter((f) => f.startsWith(prefix) && f.endsWith(".tmp")).map((f) => unlink(join(this.dir, f)).catch(() => undefined)));
  }

  /**
   * Job ids that other runs' records in this folder hold: a job another run created and
   * recorded is never this run's to adopt. Unreadable records are skipped (they belong to
   * other runs, which refuse them themselves).
   */
  async jobsOfOtherRuns(): Promise<Set<string>> {
    const ids = new Set<string>();
    const files = await readdir(this.dir).catch(() => [] as string[]);
    for (const f of files) {
      if (!f.endsWith(".json") || join(this.dir, f) === this.file) continue;
      try {
        const other = JSON.parse(await readFile(join(this.dir, f), "utf8")) as { parts?: Array<{ jobId?: unknown }> };
        for (const p of Array.isArray(other.parts) ? other.parts : []) if (typeof p?.jobId === "string") ids.add(p.jobId);
      } catch {
        // not a record this version can read
      }
    }
    return ids;
  }

  /**
   * Takes the run's lock, refusing while another live process holds it. A lock whose process is
   * gone (crash, kill -9, reboot) is stale and taken over.
   */
  async lock(describe: string): Promise<() => Promise<void>> {
    await checkStateDir(this.dir);
    return takeLock(this.lockFile, describe, (holder) =>
      new CliError(
        `another \`compliant all\` for ${describe} is already running (pid ${holder.pid}, since ${holder.started}); let it finish, or remove ${this.lockFile} if that process is gone.`,
        ExitCode.transient,
      ),
    );
  }

  /**
   * Takes a lock on the results file (by its real path, so two spellings or a symlink name the
   * same file), refusing while another live run writes it: two runs given one results file
   * would otherwise both succeed and one result set would be lost.
   */
  async lockResults(resultsFile: string, shown: string, describe: string): Promise<() => Promise<void>> {
    await checkStateDir(this.dir);
    // A device or a pipe (/dev/null, a FIFO) is written in place and holds no result set to lose.
    const existing = await stat(resultsFile).catch(() => undefined);
    if (existing && !existing.isFile()) return async () => undefined;
    const real = await realpath(resultsFile).catch(async () => join(await realpath(dirname(resultsFile)).catch(() => dirname(resultsFile)), basename(resultsFile)));
    const lockFile = join(this.dir, `results-${createHash("sha256").update(real).digest("hex").slice(0, 24)}.lock`);
    return takeLock(lockFile, describe, (holder) =>
      new CliError(
        `another compliant run is writing the results file ${shown} (pid ${holder.pid}${holder.what ? `: ${holder.what}` : ""}, since ${holder.started}); let it finish, or choose another --results-file.`,
        ExitCode.transient,
      ),
    );
  }
}

/** A lock of the state folder under a name of the caller's (sync holds one per dataset and output). */
export async function lockInStateDir(dir: string, name: string, describe: string, busy: (holder: LockRecord) => CliError): Promise<() => Promise<void>> {
  await checkStateDir(dir);
  return takeLock(join(dir, name), describe, busy);
}

/**
 * Removes the results lock a killed run left on `resultsFile`, unless a live run holds it: a
 * resumed run that writes elsewhere would otherwise leave it behind for ever.
 */
export async function dropStaleResultsLock(store: StateStore, resultsFile: string): Promise<void> {
  const release = await store.lockResults(resultsFile, resultsFile, "cleanup").catch(() => undefined);
  await release?.();
}

export interface LockRecord {
  pid: number;
  host: string;
  started: string;
  /** Unique per lock taken: names the lock in a takeover and on release. */
  nonce?: string;
  what?: string;
}

interface HeldLock {
  /** The nonce of a well-formed lock, else a digest of the file's content and identity. */
  id: string;
  record?: LockRecord;
}

async function readLock(lockFile: string): Promise<HeldLock | undefined> {
  let fh;
  try {
    fh = await open(lockFile, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const [st, text] = [await fh.stat(), await fh.readFile("utf8")];
    let record: LockRecord | undefined;
    try {
      const r = JSON.parse(text) as Partial<LockRecord>;
      if (typeof r.pid === "number" && typeof r.host === "string") record = r as LockRecord;
    } catch {
      // not a lock this version wrote
    }
    const id =
      record?.nonce && /^[0-9a-f]{16,64}$/.test(record.nonce)
        ? record.nonce
        : createHash("sha256").update(`${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}:${text}`).digest("hex").slice(0, 32);
    return { id, record };
  } catch {
    return undefined;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * One lock file, taken atomically. A new lock is written completely to a private temp file and
 * then hard-linked to the lock's name, which fails if the name exists: a lock is never seen empty
 * and two takers can never both succeed. A stale lock (its process is gone) is removed only by
 * the one process that manages to create the takeover marker named after that very lock, and only
 * after checking the lock is still that one; everyone else looks again. Nonces are never reused,
 * so a slow taker that read an old lock can never remove its successor.
 */
async function takeLock(lockFile: string, what: string, busy: (holder: LockRecord) => CliError): Promise<() => Promise<void>> {
  const nonce = randomBytes(16).toString("hex");
  const mine: LockRecord = { pid: process.pid, host: hostname(), started: new Date().toISOString(), nonce, what };
  const tmp = `${lockFile}.${nonce}.tmp`;
  try {
    await writeExclusive(tmp, JSON.stringify(mine));
  } catch (err) {
    // A full disk (or quota, or no file handles left) is worth waiting out; anything else means
    // this folder can't hold state.
    const system = systemError(err, { where: `a file in the state folder ${dirname(lockFile)}` });
    if (system?.exitCode === ExitCode.transient) throw system;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot write in the state folder ${dirname(lockFile)} (${code ?? (err as Error).message}); pass --state-dir with a writable folder, or set XDG_STATE_HOME.`);
  }
  const looked = new Set<string>();
  try {
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        await placeLock(tmp, lockFile, JSON.stringify(mine));
        return async () => {
          // Only our own lock is removed, never one that replaced it.
          if ((await readLock(lockFile))?.id === nonce) await unlink(lockFile).catch(() => undefined);
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const held = await readLock(lockFile);
      if (!held) continue; // released meanwhile: try again
      if (held.record && held.record.host === hostname() && isAlive(held.record.pid)) throw busy(held.record);
      if (!held.record && !looked.has(held.id)) {
        // Unreadable: perhaps an older version's lock being written this very moment. Look again.
        looked.add(held.id);
        await sleep(100);
        continue;
      }
      const marker = `${lockFile}.${held.id}.takeover`;
      try {
        await writeExclusive(marker, JSON.stringify(mine));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        // Someone else is taking this stale lock over right now; see who wins.
        await sleep(5 + Math.floor(Math.random() * 20));
        continue;
      }
      try {
        if ((await readLock(lockFile))?.id === held.id) await unlink(lockFile);
      } finally {
        await unlink(marker).catch(() => undefined);
      }
    }
    throw new CliError(`could not take the lock ${lockFile}; remove it if no other compliant run is active.`, ExitCode.transient);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Puts the complete lock in place, failing with EEXIST if one is there. A hard link does it in
 * one step; on a file system without hard links, an exclusive create followed by the write (a
 * lock briefly empty, which readers look at twice).
 */
async function placeLock(tmp: string, lockFile: string, text: string): Promise<void> {
  try {
    await link(tmp, lockFile);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
    await writeExclusive(lockFile, text);
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
 * The state folder decides which job a run resumes and who holds a lock, so it must be ours alone:
 * created if missing, and refused (exit 2) when another user owns it or others may write to it.
 */
async function checkStateDir(dir: string): Promise<void> {
  await makeStateDir(dir);
  const st = await stat(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new UsageError(
      `the state folder ${dir} belongs to another user (uid ${st.uid}), so its saved jobs and locks cannot be trusted; pass --state-dir with a folder of your own, or set XDG_STATE_HOME.`,
    );
  }
  if (st.mode & 0o022) {
    throw new UsageError(
      `the state folder ${dir} can be written by ${st.mode & 0o002 ? "every user" : "its group"} (mode ${(st.mode & 0o777).toString(8)}), so its saved jobs and locks cannot be trusted; run \`chmod 700 ${dir}\`, or pass --state-dir with a private folder.`,
    );
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
