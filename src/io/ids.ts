// Validates, normalises and splits an ID file (one Post or user ID per line) in one
// streaming pass, before any job is created: bad input must create nothing.
//
// The input is read in chunks (id-chunks.ts) and each chunk scanned in place (id-scanner.ts:
// classifies the lines, compacts the kept IDs, decides the part cuts). A regular file that has
// only verbatim lines is uploaded as is. At the first other line, a normalised copy starts in a
// private temp dir: the clean prefix is copied from the source, and from then on each chunk is
// compacted in place and appended. stdin (and any non-regular file, e.g. a pipe) is always
// spooled in the same pass.
// Repeats: with --dedupe the IdSet holds every distinct ID (it must, to drop repeats). Without
// it, a RepeatCounter counts them exactly in fixed memory (partitions spilled to an unlinked temp
// file), so memory does not grow with the input and the file is read once.

import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { UsageError } from "../errors.js";
import { READ_CHUNK, SpoolFile, copyChunks, readChunks } from "./id-chunks.js";
import { idFileMessages, readError, scratchError } from "./id-messages.js";
import { MAX_LINE_BYTES, Scanner, startOfInput } from "./id-scanner.js";
import { IdSet } from "./id-set.js";
import { RepeatCounter } from "./repeat-counter.js";
import type { RepeatCounterOptions } from "./repeat-counter.js";

export interface PrepareIdsOptions {
  /** Drop repeated IDs (first occurrence kept, order preserved). */
  dedupe?: boolean;
  /** Split into parts of at most this many IDs. */
  maxIdsPerJob?: number;
  /** ... and at most this many bytes per part (default 128_000_000). */
  maxBytesPerJob?: number;
  /** Where to spool/normalise (default os.tmpdir()); files are created 0600 inside a mkdtemp dir. */
  tmpDir?: string;
  signal?: AbortSignal;
  /** Called at most ~10×/s while reading, and once at the end. */
  onProgress?: (p: { bytes: number; ids: number }) => void;
  /** Read when input is "-" (default process.stdin). */
  stdin?: NodeJS.ReadableStream;
  /** (Tests, benchmarks) sizes of the repeat counter used without dedupe. */
  repeatCounter?: Pick<RepeatCounterOptions, "partitions" | "blockIds" | "maxInMemory">;
}

export interface IdPart {
  index: number;
  /** Byte offsets into uploadPath; end is exclusive. Always line-aligned. */
  start: number;
  end: number;
  ids: number;
  bytes: number;
}

export interface PreparedIds {
  /** The path given, or "stdin". */
  source: string;
  /** The file to upload: the original file when it is already clean, else a normalised temp file. */
  uploadPath: string;
  uploadBytes: number;
  /** IDs to upload (after dedupe). */
  ids: number;
  /** Physical lines read (blank ones included). */
  lines: number;
  blankLines: number;
  /** Repeats seen (counted even without dedupe). */
  duplicates: number;
  inputBytes: number;
  bom: boolean;
  crlf: boolean;
  /** True when the upload differs from the input bytes (BOM, CR, blank lines, spaces, dedupe, no final newline). */
  normalised: boolean;
  /** At least one; one part covering everything when no split is needed. */
  parts: IdPart[];
  /** Hex SHA-256 of the upload bytes. */
  sha256: string;
  /** Removes any temp files; idempotent. */
  cleanup(): Promise<void>;
}

export const DEFAULT_MAX_BYTES_PER_JOB = 128_000_000;
const PROGRESS_INTERVAL_MS = 100;
/** Bytes per line assumed when sizing the IdSet from the file size (a 19-digit ID + LF). */
const BYTES_PER_ID_ESTIMATE = 20;

function checkLimit(name: string, value: number | undefined, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value >= min) || (!Number.isInteger(value) && value !== Infinity)) {
    throw new UsageError(`${name} must be a whole number of at least ${min}, not ${String(value)}; pass a larger value.`);
  }
  return value;
}

interface Piece {
  buf: Uint8Array;
  /** false: the bytes are only hashed (they are part of the source prefix copied on materialising). */
  write: boolean;
}

export async function prepareIds(input: string, opts: PrepareIdsOptions = {}): Promise<PreparedIds> {
  const maxIds = checkLimit("the maximum number of IDs per job", opts.maxIdsPerJob, 1, Infinity);
  const maxBytes = checkLimit("the maximum bytes per job", opts.maxBytesPerJob, 20, DEFAULT_MAX_BYTES_PER_JOB);
  const signal = opts.signal;
  signal?.throwIfAborted();

  const isStdin = input === "-";
  const source = isStdin ? "stdin" : input;
  const baseTmp = opts.tmpDir ?? tmpdir();

  let srcFh: FileHandle | undefined;
  // The upload file, opened at the first line that is not verbatim (at once for spooled input).
  const out = new SpoolFile(baseTmp, isStdin ? "stdin.ids" : "normalised.ids");
  let stream: (NodeJS.ReadableStream & { destroy?: (err?: Error) => void }) | undefined;
  let spool: boolean;
  let fileSize = 0;

  if (isStdin) {
    stream = (opts.stdin ?? process.stdin) as typeof stream;
    spool = true;
  } else {
    try {
      srcFh = await open(input, "r");
      const st = await srcFh.stat();
      if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
      spool = !st.isFile();
      fileSize = spool ? 0 : st.size;
    } catch (err) {
      await srcFh?.close().catch(() => {});
      throw readError(input, err);
    }
    // A pipe or device is read as a stream; a regular file with positioned reads into
    // two reused buffers (fresh buffers per chunk cost page faults and GC).
    if (spool) stream = srcFh.createReadStream({ highWaterMark: READ_CHUNK, autoClose: false });
  }
  const chunks = stream !== undefined ? copyChunks(stream) : readChunks(srcFh!, READ_CHUNK);

  // With --dedupe every distinct ID is kept (~13 bytes each). Without it, repeats are only
  // counted, exactly and in fixed memory (see src/io/repeat-counter.ts).
  const dedupe = opts.dedupe === true;
  const sc = new Scanner(
    dedupe ? new IdSet(Math.ceil(fileSize / BYTES_PER_ID_ESTIMATE)) : undefined,
    dedupe
      ? undefined
      : new RepeatCounter({
          ...opts.repeatCounter,
          tmpDir: baseTmp,
          wrapError: (err) => scratchError(baseTmp, err),
        }),
    maxIds,
    maxBytes,
    spool,
  );
  const hash = createHash("sha256");
  const carry = Buffer.allocUnsafe(MAX_LINE_BYTES + 1);
  let carryLen = 0;
  let carryAbs = 0;
  let carryOverflow = false;
  let inputBytes = 0;
  let bom = false;
  let head: Buffer | undefined; // the first bytes, held until the BOM check can be made
  let lastProgress = 0;

  const appendCarry = (src: Uint8Array, s: number, e: number): void => {
    const n = Math.min(e - s, carry.length - carryLen);
    if (n < e - s) carryOverflow = true;
    carry.set(src.subarray(s, s + n), carryLen);
    carryLen += n;
  };

  /** Scans one buffer of input starting at input offset abs; returns the upload pieces. */
  const scanChunk = (buf: Buffer, from: number, abs: number, pieces: Piece[]): void => {
    let pos = from;
    if (carryLen > 0) {
      const lf = buf.indexOf(10, pos);
      if (lf < 0) {
        appendCarry(buf, pos, buf.length);
        return;
      }
      appendCarry(buf, pos, lf + 1);
      pos = lf + 1;
      finishCarry(pieces);
    }
    sc.scan(buf, pos, buf.length, abs + pos - from);
    if (!sc.failed && sc.out > pos) pieces.push({ buf: buf.subarray(pos, sc.out), write: sc.materialised });
    if (sc.tail < buf.length) {
      carryAbs = abs + sc.tail - from;
      appendCarry(buf, sc.tail, buf.length);
    }
  };

  /** The carry holds one whole line (ending in LF unless it overflowed). */
  const finishCarry = (pieces: Piece[]): void => {
    if (carryOverflow) {
      sc.lines++;
      sc.recordInvalid(sc.lines, carry, 0, carryLen);
    } else {
      sc.scan(carry, 0, carryLen, carryAbs);
      if (!sc.failed && sc.out > 0) pieces.push({ buf: Buffer.from(carry.subarray(0, sc.out)), write: sc.materialised });
    }
    carryLen = 0;
    carryOverflow = false;
  };

  const flush = async (pieces: Piece[]): Promise<void> => {
    if (sc.failed) return;
    if (sc.materialised && !out.isOpen) {
      await out.open();
      if (sc.materialiseFrom > 0) await out.copyPrefix(srcFh!, sc.materialiseFrom);
    }
    const writes: Uint8Array[] = [];
    for (const p of pieces) {
      hash.update(p.buf);
      if (p.write) writes.push(p.buf);
    }
    if (writes.length > 0) await out.write(writes);
  };

  const onAbort = (): void => {
    stream?.destroy?.(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)));
  };
  signal?.addEventListener("abort", onAbort, { once: true });

  try {
    try {
      // Each chunk is ours (compaction writes in place) until the next one is asked for.
      for await (let buf of chunks) {
        signal?.throwIfAborted();
        if (buf.length === 0) continue;
        const abs = inputBytes;
        inputBytes += buf.length;
        let from = 0;
        if (inputBytes < 3 && head === undefined && abs === 0) {
          head = Buffer.from(buf);
          continue;
        }
        if (head !== undefined) {
          const joined = Buffer.concat([head, buf]);
          head = undefined;
          if (joined.length < 3) {
            head = joined;
            continue;
          }
          buf = joined;
        }
        if (buf.length === inputBytes) {
          // The first bytes of the input.
          from = startOfInput(buf, source);
          if (from === 3) {
            bom = true;
            sc.change(0);
          }
        }
        const pieces: Piece[] = [];
        scanChunk(buf, from, inputBytes - buf.length + from, pieces);
        await flush(pieces);
        if (opts.onProgress !== undefined) {
          const now = Date.now();
          if (now - lastProgress >= PROGRESS_INTERVAL_MS) {
            lastProgress = now;
            opts.onProgress({ bytes: inputBytes, ids: sc.ids });
          }
        }
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof UsageError) throw err;
      throw readError(isStdin ? "stdin" : input, err);
    }
    signal?.throwIfAborted();

    // End of input: a short input held for the BOM check, and a last line without LF.
    const pieces: Piece[] = [];
    if (head !== undefined) {
      const from = startOfInput(head, source);
      if (from === 3) {
        bom = true;
        sc.change(0);
      }
      scanChunk(head, from, from, pieces);
      head = undefined;
    }
    if (carryLen > 0) {
      sc.change(carryAbs);
      if (carryLen === carry.length) carryOverflow = true;
      if (!carryOverflow) carry[carryLen++] = 10;
      finishCarry(pieces);
    }
    await flush(pieces);
    signal?.throwIfAborted();

    if (sc.failed) throw new UsageError(idFileMessages.invalid(source, sc.invalid, sc.examples));
    if (sc.ids === 0) throw new UsageError(idFileMessages.empty(source));

    await out.close();
    const uploadPath = sc.materialised ? out.path! : input;
    if (sc.repeats !== undefined) sc.duplicates = await sc.repeats.count(signal);
    // Drop the big structures now: the PreparedIds outlives validation (upload, download).
    sc.set = undefined;
    sc.repeats = undefined;
    opts.onProgress?.({ bytes: inputBytes, ids: sc.ids });

    return {
      source,
      uploadPath,
      uploadBytes: sc.outBytes,
      ids: sc.ids,
      lines: sc.lines,
      blankLines: sc.blankLines,
      duplicates: sc.duplicates,
      inputBytes,
      bom,
      crlf: sc.crlf,
      normalised: sc.changed,
      parts: partsFromCuts(sc.cutEnds, sc.cutIds, sc.outBytes, sc.partIds),
      sha256: hash.digest("hex"),
      cleanup: () => out.remove(),
    };
  } catch (err) {
    await out.close().catch(() => {});
    await out.remove().catch(() => {});
    throw err;
  } finally {
    sc.repeats?.dispose();
    signal?.removeEventListener("abort", onAbort);
    if (srcFh !== undefined) {
      stream?.destroy?.();
      await srcFh.close().catch(() => {});
    }
  }
}

/**
 * The parts from the scanner's cuts (cutEnds[k] ends part k, which holds cutIds[k] IDs); the last
 * part, of lastIds IDs, ends at uploadBytes. Each part starts where the one before ended.
 */
function partsFromCuts(cutEnds: readonly number[], cutIds: readonly number[], uploadBytes: number, lastIds: number): IdPart[] {
  const parts: IdPart[] = [];
  let start = 0;
  const add = (end: number, ids: number): void => {
    parts.push({ index: parts.length, start, end, ids, bytes: end - start });
    start = end;
  };
  for (let k = 0; k < cutEnds.length; k++) add(cutEnds[k]!, cutIds[k]!);
  if (lastIds > 0) add(uploadBytes, lastIds);
  return parts;
}
