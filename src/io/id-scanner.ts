// The byte scanner of an ID file: validates, normalises and counts one buffer range at a time,
// pure and synchronous (the reading and writing are the caller's, see ids.ts).
//
// Each line is classified as
//   verbatim  – digits then LF, and kept: the upload holds exactly these bytes;
//   changed   – a kept ID with a BOM/CR/spaces around it: the upload holds `<id>\n`;
//   dropped   – a blank line, or a repeat when deduping;
//   invalid   – anything else (the pass goes on to count them, writing nothing).
// Kept IDs are compacted in place over the bytes of dropped or changed lines.
// Lines go through in batches of 1024: parse, then the set (or the repeat counter) in one tight
// loop, then output. The parse reads 4 bytes at a time (SWAR digit check and conversion), ~1.5×
// faster than byte by byte; lines it cannot take whole (spaces, CR, blanks, bad bytes, the last
// bytes of a buffer) go through the byte-by-byte path.
// The scanner also decides where the upload is cut into parts (a cut before the ID that would
// pass the part's limits); ids.ts turns the cuts into IdParts.

import { UsageError } from "../errors.js";
import { EXAMPLE_CHARS, MAX_INVALID_EXAMPLES, formatInvalidExample, idFileMessages } from "./id-messages.js";
import { highWord, type IdSet } from "./id-set.js";
import type { RepeatCounter } from "./repeat-counter.js";

/** Longest line accepted (bytes before the LF, CR included): an ID padded with up to ~1000 spaces. */
export const MAX_LINE_BYTES = 1024;
/** ID lines handled per batch (parse, then set, then output). */
const BATCH = 1024;

export class Scanner {
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

  /** Upload bytes so far. */
  outBytes = 0;
  // Parts: the current one's IDs and bytes, and the cuts made (the upload offset where each
  // finished part ends, and its IDs); the last part ends at outBytes.
  partIds = 0;
  partBytes = 0;
  readonly cutEnds: number[] = [];
  readonly cutIds: number[] = [];

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
          this.cutEnds.push(outBytes);
          this.cutIds.push(partIds);
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
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13;
}

/** Where the IDs start in the first bytes of the input: 3 after a UTF-8 BOM, else 0. */
export function startOfInput(buf: Buffer, source: string): number {
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return 3;
  if (buf.length >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff))) {
    throw new UsageError(idFileMessages.utf16(source));
  }
  return 0;
}
