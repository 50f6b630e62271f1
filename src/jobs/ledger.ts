import { constants } from "node:fs";
import { open, readFile, stat } from "node:fs/promises";
import { CliError, ExitCode, UsageError } from "../errors.js";
import type { Fingerprint } from "./sync-dataset.js";

// The compliance ledger: one JSON line appended per finished sync, the archive owner's evidence
// of what was checked and done when. `compliant history` reads it back.

export const LEDGER_FILE = "compliance-ledger.jsonl";

export interface LedgerTypeEntry {
  /** The jobs that checked these IDs (several when the IDs were split). */
  jobs: Array<{ id: string; ids: number }>;
  ids_checked: number;
  ids_needing_action: number;
  by_action: Record<string, number>;
  by_reason: Record<string, number>;
  errors: Record<string, number>;
  results_file: string | null;
  results_sha256: string | null;
}

/** One line of the ledger (stable interface; `ledger_version` changes if its meaning does). */
export interface LedgerEntry {
  ledger_version: 1;
  /** Names this sync (its run key and start): a re-run after a crash never appends it twice. */
  sync_id: string;
  started_at: string;
  finished_at: string;
  tool: "compliant";
  tool_version: string;
  api_origin: string;
  /** `files`: when several files were given (not a folder), every one (`path` is the first). */
  dataset: { path: string; files?: string[]; bytes: number; sha256: string; sha256_of: Fingerprint["of"] };
  output: { path: string; in_place: boolean; bytes: number; sha256: string; sha256_of: Fingerprint["of"] };
  removed_file: string | null;
  rehydrate_file: string | null;
  types: { tweets: LedgerTypeEntry; users: LedgerTypeEntry };
  records: {
    read: number;
    /**
     * Records removed for their own event: Posts (and their copies, and retweets of them) with a
     * Post delete event, user objects (and their copies) with a user delete event.
     */
    removed_for_own_event: number;
    /** Posts removed because their author has a user delete event (deleted, suspended, protected, deactivated, …). */
    removed_for_author: number;
    scrubbed: number;
    /** Posts kept as stored although edited (action rehydrate): their IDs go to `--rehydrate`. */
    rehydrate: number;
  };
}

/**
 * Appends one entry and makes it durable (fsync) before returning: a sync that cannot write its
 * ledger line has not succeeded.
 */
export async function appendLedger(path: string, entry: LedgerEntry): Promise<void> {
  let fh;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
    // A last line cut short by an earlier crash (or a full disk) has no newline: this entry
    // starts on a line of its own, or it would be glued to that fragment and lost with it.
    const torn = await endsTorn(path, (await fh.stat()).size);
    const bytes = Buffer.from(`${torn ? "\n" : ""}${JSON.stringify(entry)}\n`);
    // A short write is finished, never left as a half line.
    for (let off = 0; off < bytes.length; ) off += (await fh.write(bytes, off)).bytesWritten;
    await fh.sync();
  } catch (err) {
    throw new CliError(
      `could not write the ledger ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the sync is not recorded, so it did not succeed: make the ledger writable (or pass --ledger <file>) and run the same sync again.`,
      ExitCode.transient,
    );
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

async function endsTorn(path: string, size: number): Promise<boolean> {
  if (size === 0) return false;
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!fh) return false;
  try {
    const last = Buffer.alloc(1);
    return (await fh.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Whether the ledger already has a line for this sync (a re-run after a kill between the line
 * and the end). Lines that are not entries are passed over: a damaged line elsewhere must not
 * make the same sync recorded twice.
 */
export async function ledgerEntryFor(path: string, syncId: string): Promise<LedgerEntry | undefined> {
  const text = await readFile(path, "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    if (!line.includes(syncId)) continue;
    try {
      const v = JSON.parse(line) as unknown;
      if (isEntry(v) && v.sync_id === syncId) return v;
    } catch {
      // not an entry: passed over
    }
  }
  return undefined;
}

/** The ledger's entries, oldest first; a line that is not an entry is refused with its number. */
export async function readLedger(path: string, shown: string): Promise<LedgerEntry[] | undefined> {
  let text: string;
  try {
    // A FIFO would block the read until something writes to it: a monitoring job would hang.
    const st = await stat(path);
    if (!st.isFile()) throw new UsageError(`the ledger ${shown} is not a regular file; pass the ledger file with --ledger.`);
    text = await readFile(path, "utf8");
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(`cannot read the ledger ${shown} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
  const entries: LedgerEntry[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw notEntry(shown, i + 1, "not JSON");
    }
    if (!isEntry(v)) throw notEntry(shown, i + 1, "not a ledger entry of this version");
    entries.push(v);
  });
  return entries;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);

/** Every field `history` shows is there, of its type (a line that only looks like an entry is refused, not a crash). */
function isEntry(v: unknown): v is LedgerEntry {
  if (!isObj(v) || v.ledger_version !== 1 || typeof v.finished_at !== "string" || Number.isNaN(Date.parse(v.finished_at))) return false;
  if (!isObj(v.dataset) || typeof v.dataset.path !== "string") return false;
  if (!isObj(v.output) || typeof v.output.path !== "string" || typeof v.output.in_place !== "boolean") return false;
  if (!isObj(v.types)) return false;
  for (const t of [v.types.tweets, v.types.users]) if (!isObj(t) || !isCount(t.ids_checked) || !isCount(t.ids_needing_action)) return false;
  const r = v.records;
  return isObj(r) && isCount(r.read) && isCount(r.removed_for_own_event) && isCount(r.removed_for_author) && isCount(r.scrubbed);
}

function notEntry(shown: string, lineNo: number, why: string): CliError {
  return new CliError(`line ${lineNo} of the ledger ${shown} is ${why}; the ledger is append-only evidence, so compliant does not guess: look at that line (a half-written last line comes from a crash and may be removed).`, ExitCode.refused);
}
