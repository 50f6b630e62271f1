// Validates, normalises and splits an ID file (one Post or user ID per line) in one
// streaming pass, before any job is created: bad input must create nothing.
//
// The hot loop scans bytes directly (no readline, no string per line). Each line is
// classified as
//   verbatim  – digits then LF, and kept: the upload holds exactly these bytes;
//   changed   – a kept ID with a BOM/CR/spaces around it: the upload holds `<id>\n`;
//   dropped   – a blank line, or a repeat when deduping;
//   invalid   – anything else (the pass goes on to count them, writing nothing).
// A regular file that has only verbatim lines is uploaded as is. At the first other
// line, a normalised copy starts in a private temp dir: the clean prefix is copied
// from the source, and from then on each chunk is compacted in place and appended.
// stdin (and any non-regular file, e.g. a pipe) is always spooled in the same pass.
// Lines go through in batches of 1024: parse, then the set (or the repeat counter) in one tight
// loop, then output. The parse reads 4 bytes at a time (SWAR digit check and conversion), ~1.5×
// faster than byte by byte; lines it cannot take whole (spaces, CR, blanks, bad bytes, the last
// bytes of a buffer) go through the byte-by-byte path.
// Repeats: with --dedupe the IdSet holds every distinct ID (it must, to drop repeats). Without
// it, a RepeatCounter counts them exactly in fixed memory (partitions spilled to an unlinked temp
// file), so memory does not grow with the input and the file is read once.

import { createHash } from "node:crypto";
import { mkdtemp, open, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { IdSet, highWord } from "./id-set.js";
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
/** Longest line accepted (bytes before the LF, CR included): an ID padded with up to ~1000 spaces. */
export const MAX_LINE_BYTES = 1024;
/** Invalid lines quoted in the error message. */
export const MAX_INVALID_EXAMPLES = 5;
const EXAMPLE_CHARS = 40;
const READ_CHUNK = 1024 * 1024;
/** ID lines handled per batch (parse, then set, then output). */
const BATCH = 1024;
const PROGRESS_INTERVAL_MS = 100;
/** Bytes per line assumed when sizing the IdSet from the file size (a 19-digit ID + LF). */
const BYTES_PER_ID_ESTIMATE = 20;
// ---------------------------------------------------------------------------------
// Messages (stable: the CLI's tests assert them).

export const idFileMessages = {
  missing: (path: string) =>
    `cannot read the ID file ${path}: no such file; check the path, or pass - to read IDs from stdin.`,
  directory: (path: string) =>
    `cannot read the ID file ${path}: it is a directory; check the path, or pass - to read IDs from stdin.`,
  permission: (path: string) =>
    `cannot read the ID file ${path}: permission denied; check the file's permissions, or pass - to read IDs from stdin.`,
  unreadable: (path: string, reason: string) =>
    `cannot read the ID file ${path}: ${reason}; check the path, or pass - to read IDs from stdin.`,
  empty: (source: string) => `the ID file ${source} holds no IDs; put one Post or user ID per line.`,
  invalid: (source: string, count: number, examples: readonly string[]) =>
    `the ID file ${source} has ${count} invalid line${count === 1 ? "" : "s"} (${examples.join(", ")}); each line must be one Post or user ID of 1–19 digits.`,
  utf16: (source: string) =>
    `the ID file ${source} is UTF-16 encoded; save it as UTF-8 (or plain ASCII) with one Post or user ID per line.`,
  tmpDir: (dir: string, reason: string) =>
    `cannot write the normalised ID file in ${dir}: ${reason}; free some space or choose another temporary directory (TMPDIR).`,
  scratch: (dir: string, reason: string) =>
    `cannot count repeated IDs: the scratch file in ${dir} failed: ${reason}; free some space (about 8 bytes per ID) or choose another temporary directory (TMPDIR).`,
} as const;

/** `line 7: "12x"`: the trimmed line text, cut to 40 characters (the last one "…" when cut). */
export function formatInvalidExample(line: number, text: string): string {
  const chars = Array.from(text);
  const shown = chars.length > EXAMPLE_CHARS ? chars.slice(0, EXAMPLE_CHARS - 1).join("") + "…" : text;
  return `line ${line}: ${JSON.stringify(shown)}`;
}

function describeFsError(err: unknown): { code: string; reason: string } {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "";
  switch (code) {
    case "ENOENT":
      return { code, reason: "no such file" };
    case "ENOTDIR":
      return { code, reason: "a part of the path is not a directory" };
    case "EISDIR":
      return { code, reason: "it is a directory" };
    case "EACCES":
    case "EPERM":
      return { code, reason: "permission denied" };
    case "ENOSPC":
      return { code, reason: "no space left on the device" };
    case "EDQUOT":
      return { code, reason: "disk quota exceeded" };
    case "ELOOP":
      return { code, reason: "too many symbolic links" };
    case "ENAMETOOLONG":
      return { code, reason: "the name is too long" };
    case "EIO":
      return { code, reason: "an I/O error occurred" };
    default: {
      const message = err instanceof Error ? err.message : String(err);
      return { code, reason: message.replace(/[.;]\s*$/, "") };
    }
  }
}

function readError(path: string, err: unknown): UsageError {
  const { code, reason } = describeFsError(err);
  let message: string;
  if (code === "ENOENT") message = idFileMessages.missing(path);
  else if (code === "EISDIR") message = idFileMessages.directory(path);
  else if (code === "EACCES" || code === "EPERM") message = idFileMessages.permission(path);
  else message = idFileMessages.unreadable(path, reason);
  return new UsageError(message, { cause: err });
}

// ---------------------------------------------------------------------------------
// The scanner: pure, synchronous, one call per buffer range.

class Scanner {
  /** With dedupe: every distinct ID. */
  set: IdSet | undefined;
  /** Without dedupe: counts the repeats. */
  repeats: RepeatCounter | undefined;
  readonly dedupe: boolean;
  readonly maxIds: number;
  readonly maxBytes: number;

  lines = 0;
  blankLines = 0;
  duplicates = 0;
  ids = 0;
  invalid = 0;
  examples: string[] = [];
  crlf = false;
  /** Some line was not copied verbatim (or BOM / missing final newline). */
  changed = false;
  /** Output is being written (always for spooled input; for files from the first change). */
  materialised: boolean;
  /** For a file: the upload starts with the source's bytes [0, materialiseFrom). */
  materialiseFrom = 0;
  failed = false;

  // Parts, in upload byte offsets.
  outBytes = 0;
  partStart = 0;
  partIds = 0;
  partBytes = 0;
  parts: IdPart[] = [];

  /** Results of the last scan(): where the incomplete tail starts, and the end of the compacted output. */
  tail = 0;
  out = 0;

  // Per-batch scratch: digit range and key of each ID line, and whether it was new.
  readonly ds = new Int32Array(BATCH);
  readonly de = new Int32Array(BATCH);
  readonly klo = new Uint32Array(BATCH);
  readonly khi = new Uint32Array(BATCH);
  readonly isNew = new Uint8Array(BATCH);

  constructor(set: IdSet | undefined, repeats: RepeatCounter | undefined, maxIds: number, maxBytes: number, materialised: boolean) {
    this.set = set;
    this.repeats = repeats;
    this.dedupe = set !== undefined;
    this.maxIds = maxIds;
    this.maxBytes = maxBytes;
    this.materialised = materialised;
  }

  /** Marks the upload as differing from the input, from input offset `at` on. */
  change(at: number): void {
    this.changed = true;
    if (!this.materialised) {
      this.materialised = true;
      this.materialiseFrom = at;
    }
  }

  recordInvalid(line: number, buf: Uint8Array, start: number, end: number): void {
    this.invalid++;
    this.failed = true;
    if (this.examples.length >= MAX_INVALID_EXAMPLES) return;
    let s = start;
    let e = end;
    while (s < e && isSpace(buf[s]!)) s++;
    while (e > s && isSpace(buf[e - 1]!)) e--;
    const text = Buffer.from(buf.buffer, buf.byteOffset + s, Math.min(e - s, EXAMPLE_CHARS * 4)).toString("utf8");
    this.examples.push(formatInvalidExample(line, text));
  }

  /**
   * Scans the complete lines in buf[start, end) (absStart = input offset of buf[start]).
   * Afterwards `tail` is where the incomplete last line starts (end if none) and the
   * upload bytes for the scanned lines are buf[start, out): kept IDs are compacted in
   * place over the bytes of dropped or changed lines.
   */
  scan(buf: Uint8Array, start: number, end: number, absStart: number): void {
    const DS = this.ds;
    const DE = this.de;
    const KLO = this.klo;
    const KHI = this.khi;
    const NEW = this.isNew;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const dedupe = this.dedupe;
    const maxIds = this.maxIds;
    const maxBytes = this.maxBytes;
    let lines = this.lines;
    let ids = this.ids;
    let outBytes = this.outBytes;
    let partIds = this.partIds;
    let partBytes = this.partBytes;
    let failed = this.failed;
    let materialised = this.materialised;
    let i = start;
    let w = start; // end of the compacted output
    // The verbatim run [runS, runE) not yet moved down to w; -1 after a changed line.
    let runS = start;
    let runE = start;

    let more = true;
    while (more && i < end) {
      // Phase 1: find up to BATCH ID lines, validating and parsing as we go.
      let n = 0;
      while (i < end && n < BATCH) {
        const ls = i;
        if (ls + 20 <= end) {
          // Fast path, 4 bytes at a time (a line of at most 19 digits + LF is within reach; up to
          // 3 bytes of the next line are read, not used). Byte k of a group is bits 8k..8k+7.
          let lo = 0;
          let approx = 0;
          let k = ls;
          let t = 0;
          for (let g = 0; g < 5; g++) {
            const v = dv.getUint32(k, true);
            // Non-zero bytes of t mark non-digits: a digit's high nibble is 3, and adding 6 to it
            // does not carry out of its low nibble. (A carry only comes from a byte ≥ 0xFA, itself
            // a non-digit at a lower position, so the lowest marked byte is the first non-digit.)
            t = ((v & 0xf0f0f0f0) | (((v + 0x06060606) & 0xf0f0f0f0) >>> 4)) ^ 0x33333333;
            if (t !== 0) break;
            // Four digits d0 d1 d2 d3 → d0d1 and d2d3 in bytes 0 and 2 → d0d1d2d3.
            let y = (v - 0x30303030) | 0;
            y = (Math.imul(y, 10) + (y >>> 8)) & 0x00ff00ff;
            y = (Math.imul(y, 100) + (y >>> 16)) & 0x3fff;
            lo = (Math.imul(lo, 10000) + y) | 0;
            approx = approx * 10000 + y;
            k += 4;
          }
          if (t !== 0) {
            const e = k + ((31 - Math.clz32(t & -t)) >>> 3);
            if (e !== ls && buf[e] === 10) {
              for (; k < e; k++) {
                const d = buf[k]! - 48;
                lo = (Math.imul(lo, 10) + d) | 0;
                approx = approx * 10 + d;
              }
              lines++;
              if (!failed) {
                DS[n] = ls;
                DE[n] = e;
                KLO[n] = lo;
                KHI[n] = highWord(approx, lo);
                n++;
              }
              i = e + 1;
              continue;
            }
          }
          // 20+ digits, or something other than digits then LF: the byte-by-byte path decides.
        }
        let c = 0;
        let lo = 0;
        let approx = 0;
        while (i < end) {
          c = buf[i]!;
          if (c < 48 || c > 57) break;
          lo = (Math.imul(lo, 10) + c - 48) | 0;
          approx = approx * 10 + c - 48;
          i++;
        }
        if (i >= end) {
          i = ls;
          more = false;
          break;
        }
        if (c === 10 && i !== ls && i - ls <= 19) {
          // Digits then LF (near the end of the buffer).
          lines++;
          if (!failed) {
            DS[n] = ls;
            DE[n] = i;
            KLO[n] = lo;
            KHI[n] = highWord(approx, lo);
            n++;
          }
          i++;
          continue;
        }
        // Slow path: spaces, CR, blank or invalid lines.
        i = ls;
        while (i < end && ((c = buf[i]!) === 32 || c === 9)) i++;
        const ds = i;
        lo = 0;
        approx = 0;
        while (i < end) {
          c = buf[i]!;
          if (c < 48 || c > 57) break;
          lo = (Math.imul(lo, 10) + c - 48) | 0;
          approx = approx * 10 + c - 48;
          i++;
        }
        const de = i;
        while (i < end && ((c = buf[i]!) === 32 || c === 9)) i++;
        if (i >= end) {
          i = ls;
          more = false;
          break;
        }
        let lf = i;
        let bad = false;
        if (c !== 10) {
          if (c === 13 && i + 1 < end && buf[i + 1] === 10) {
            lf = i + 1;
            this.crlf = true;
          } else {
            while (lf < end && buf[lf] !== 10) lf++;
            if (lf >= end) {
              i = ls;
              more = false;
              break;
            }
            bad = true;
          }
        }
        i = lf + 1;
        lines++;
        const nd = de - ds;
        if (bad || nd > 19 || lf - ls > MAX_LINE_BYTES) {
          this.lines = lines;
          this.recordInvalid(lines, buf, ls, lf);
          failed = true;
        } else if (nd === 0) {
          this.blankLines++;
        } else if (!failed) {
          DS[n] = ds;
          DE[n] = de;
          KLO[n] = lo;
          KHI[n] = highWord(approx, lo);
          n++;
        }
      }
      if (failed || n === 0) continue;

      // Phase 2: the set (or the repeat counter), in one tight loop.
      if (dedupe) this.duplicates += n - this.set!.addKeys(KLO, KHI, n, NEW);
      else this.repeats!.addKeys(KLO, KHI, n);

      // Phase 3: parts, and compaction of the output in place.
      for (let q = 0; q < n; q++) {
        if (dedupe && NEW[q] === 0) continue;
        const s = DS[q]!;
        const e = DE[q]!;
        const lb = e - s + 1;
        if (partIds !== 0 && (partIds >= maxIds || partBytes + lb > maxBytes)) {
          this.parts.push({ index: this.parts.length, start: this.partStart, end: outBytes, ids: partIds, bytes: partBytes });
          this.partStart = outBytes;
          partIds = 0;
          partBytes = 0;
        }
        partIds++;
        partBytes += lb;
        outBytes += lb;
        ids++;
        if (s === runE && buf[e] === 10) {
          runE = e + 1; // verbatim and right after the run
          continue;
        }
        // Something before this line was dropped, or this line needs rewriting.
        if (!materialised) {
          this.change(absStart);
          materialised = true;
        }
        this.changed = true;
        if (runE > runS) {
          if (w !== runS) buf.copyWithin(w, runS, runE);
          w += runE - runS;
        }
        if (buf[e] === 10) {
          runS = s;
          runE = e + 1;
        } else {
          if (w !== s) buf.copyWithin(w, s, e);
          w += e - s;
          buf[w++] = 10;
          runS = -1;
          runE = -1;
        }
      }
    }

    if (!failed) {
      if (runE !== i) {
        // Blank lines, repeats or a rewritten line at the end of this range.
        if (!materialised) {
          this.change(absStart);
          materialised = true;
        }
        this.changed = true;
      }
      if (runE > runS) {
        if (w !== runS) buf.copyWithin(w, runS, runE);
        w += runE - runS;
      }
    }
    this.tail = i;
    this.out = w;
    this.lines = lines;
    this.ids = ids;
    this.outBytes = outBytes;
    this.partIds = partIds;
    this.partBytes = partBytes;
    this.failed = failed;
  }

  finishParts(): IdPart[] {
    if (this.partIds > 0) {
      this.parts.push({ index: this.parts.length, start: this.partStart, end: this.outBytes, ids: this.partIds, bytes: this.partBytes });
      this.partIds = 0;
      this.partBytes = 0;
    }
    return this.parts;
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13;
}

// ---------------------------------------------------------------------------------

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
  let tmpDir: string | undefined;
  let outFh: FileHandle | undefined;
  let outPath: string | undefined;
  let stream: (NodeJS.ReadableStream & { destroy?: (err?: Error) => void }) | undefined;
  let spool: boolean;
  let fileSize = 0;

  const removeTemp = async (): Promise<void> => {
    const dir = tmpDir;
    tmpDir = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  };

  const openOutput = async (): Promise<FileHandle> => {
    try {
      tmpDir = await mkdtemp(join(baseTmp, "compliant-ids-"));
      outPath = join(tmpDir, isStdin ? "stdin.ids" : "normalised.ids");
      return await open(outPath, "wx", 0o600);
    } catch (err) {
      throw new UsageError(idFileMessages.tmpDir(baseTmp, describeFsError(err).reason), { cause: err });
    }
  };

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
          wrapError: (err) => new UsageError(idFileMessages.scratch(baseTmp, describeFsError(err).reason), { cause: err }),
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
    if (sc.materialised && outFh === undefined) {
      outFh = await openOutput();
      if (sc.materialiseFrom > 0) await copyPrefix(srcFh!, outFh, sc.materialiseFrom, baseTmp);
    }
    const writes: Uint8Array[] = [];
    for (const p of pieces) {
      hash.update(p.buf);
      if (p.write) writes.push(p.buf);
    }
    if (writes.length > 0) await writeAll(outFh!, writes, baseTmp);
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

    if (outFh !== undefined) {
      const fh = outFh;
      outFh = undefined;
      await fh.close();
    }
    const uploadPath = sc.materialised ? outPath! : input;
    if (sc.repeats !== undefined) sc.duplicates = await sc.repeats.count(signal);
    // Drop the big structures now: the PreparedIds outlives validation (upload, download).
    sc.set = undefined;
    sc.repeats = undefined;
    opts.onProgress?.({ bytes: inputBytes, ids: sc.ids });

    const dir = tmpDir;
    let cleaned = false;
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
      parts: sc.finishParts(),
      sha256: hash.digest("hex"),
      cleanup: async () => {
        if (cleaned || dir === undefined) return;
        cleaned = true;
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await outFh?.close().catch(() => {});
    outFh = undefined;
    await removeTemp().catch(() => {});
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

/** Reads a regular file in chunks, into two buffers used in turn (one read ahead). */
async function* readChunks(fh: FileHandle, size: number): AsyncGenerator<Buffer> {
  const bufs = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  let k = 0;
  let pos = 0;
  let pending = fh.read(bufs[0]!, 0, size, 0);
  try {
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) return;
      const cur = bufs[k]!;
      pos += bytesRead;
      k ^= 1;
      pending = fh.read(bufs[k]!, 0, size, pos);
      yield cur.subarray(0, bytesRead);
    }
  } finally {
    await pending.catch(() => {});
  }
}

/** Copies a stream's chunks into a reused buffer (the caller's chunks stay untouched). */
async function* copyChunks(stream: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  let staging = Buffer.allocUnsafe(READ_CHUNK);
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    if (b.length > staging.length) staging = Buffer.allocUnsafe(b.length);
    b.copy(staging);
    yield staging.subarray(0, b.length);
  }
}

/** Where the IDs start in the first bytes of the input: 3 after a UTF-8 BOM, else 0. */
function startOfInput(buf: Buffer, source: string): number {
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return 3;
  if (buf.length >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff))) {
    throw new UsageError(idFileMessages.utf16(source));
  }
  return 0;
}

async function writeAll(fh: FileHandle, bufs: Uint8Array[], dir: string): Promise<void> {
  try {
    for (let buf of bufs) {
      while (buf.length > 0) {
        const { bytesWritten } = await fh.write(buf);
        buf = buf.subarray(bytesWritten);
      }
    }
  } catch (err) {
    throw new UsageError(idFileMessages.tmpDir(dir, describeFsError(err).reason), { cause: err });
  }
}

/** Copies src[0, n) to the start of out (the clean prefix of a file that needs normalising). */
async function copyPrefix(src: FileHandle, out: FileHandle, n: number, dir: string): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(n, READ_CHUNK));
  let pos = 0;
  while (pos < n) {
    const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, n - pos), pos);
    if (bytesRead === 0) throw Object.assign(new Error("the file shrank while it was read"), { code: "EIO" });
    await writeAll(out, [buf.subarray(0, bytesRead)], dir);
    pos += bytesRead;
  }
}
