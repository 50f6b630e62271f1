import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { idFileMessages } from "../../src/io/id-messages.js";
import { prepareIds } from "../../src/io/ids.js";
import type { PrepareIdsOptions, PreparedIds } from "../../src/io/ids.js";
import { rng } from "../helpers/rng.js";

let root = "";
let n = 0;

/** A fresh directory per test case, for the input and (separately) the temp files. */
async function scratch(): Promise<{ dir: string; tmp: string }> {
  const dir = join(root, `case-${n++}`);
  const tmp = join(dir, "tmp");
  await mkdir(tmp, { recursive: true });
  return { dir, tmp };
}

async function fileWith(content: string | Buffer): Promise<{ path: string; tmp: string }> {
  const { dir, tmp } = await scratch();
  const path = join(dir, "ids.txt");
  await writeFile(path, content);
  return { path, tmp };
}

function sha256(b: Buffer | string): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Checks the invariants every result must meet, and returns the upload bytes. */
async function checkResult(r: PreparedIds): Promise<Buffer> {
  const up = await readFile(r.uploadPath);
  assert.equal(up.length, r.uploadBytes);
  assert.equal(sha256(up), r.sha256);
  assert.equal(up.length === 0 || up[up.length - 1] === 10, true);
  assert.ok(r.parts.length >= 1);
  let pos = 0;
  let ids = 0;
  r.parts.forEach((p, i) => {
    assert.equal(p.index, i);
    assert.equal(p.start, pos);
    assert.equal(p.bytes, p.end - p.start);
    const slice = up.subarray(p.start, p.end);
    assert.equal(slice[slice.length - 1], 10, "parts end at a line end");
    assert.equal(slice.toString("latin1").split("\n").length - 1, p.ids);
    pos = p.end;
    ids += p.ids;
  });
  assert.equal(pos, up.length);
  assert.equal(ids, r.ids);
  assert.equal(up.toString("latin1").split("\n").length - 1, r.ids);
  return up;
}

/** The reference semantics, on strings: what the upload must hold. */
function reference(content: string, dedupe: boolean): { upload: string; ids: number; blank: number; dups: number; lines: number } {
  let text = content.startsWith("\uFEFF") ? content.slice(1) : content;
  if (text.endsWith("\n")) text = text.slice(0, -1);
  const lines = text.length === 0 && !content.endsWith("\n") ? [] : text.split("\n");
  const seen = new Set<string>();
  const out: string[] = [];
  let blank = 0;
  let dups = 0;
  for (const raw of lines) {
    const line = raw.replace(/\r$/, "").replace(/^[ \t]+|[ \t]+$/g, "");
    if (line === "") {
      blank++;
      continue;
    }
    assert.match(line, /^\d{1,19}$/);
    const key = BigInt(line).toString();
    if (seen.has(key)) {
      dups++;
      if (dedupe) continue;
    }
    seen.add(key);
    out.push(line + "\n");
  }
  return { upload: out.join(""), ids: out.length, blank, dups, lines: lines.length };
}

async function rejects(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof UsageError, `a UsageError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.equal(err.message, message);
    return true;
  });
}

function stdinOf(parts: (string | Buffer)[]): NodeJS.ReadableStream {
  return Readable.from(parts, { objectMode: false });
}

function idOf(k: number): string {
  return String(1_000_000_000_000_000_000n + BigInt(k) * 7_919n);
}

describe("prepareIds", () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "compliant-ids-test-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("uploads a clean file as is", async () => {
    const content = "20\n1234567890123456789\n0\n9999999999999999999\n";
    const { path, tmp } = await fileWith(content);
    const r = await prepareIds(path, { tmpDir: tmp });
    assert.equal(r.source, path);
    assert.equal(r.uploadPath, path);
    assert.equal(r.normalised, false);
    assert.equal(r.ids, 4);
    assert.equal(r.lines, 4);
    assert.equal(r.blankLines, 0);
    assert.equal(r.duplicates, 0);
    assert.equal(r.inputBytes, content.length);
    assert.equal(r.uploadBytes, content.length);
    assert.equal(r.bom, false);
    assert.equal(r.crlf, false);
    assert.equal(r.sha256, sha256(content));
    assert.deepEqual(r.parts, [{ index: 0, start: 0, end: content.length, ids: 4, bytes: content.length }]);
    await checkResult(r);
    assert.deepEqual(await readdir(tmp), [], "no temp files for a clean file");
    await r.cleanup();
    assert.equal((await stat(path)).size, content.length, "cleanup leaves the input alone");
  });

  it("normalises a BOM and CRLF line ends", async () => {
    const { path, tmp } = await fileWith("\uFEFF111\r\n222\r\n333\r\n");
    const r = await prepareIds(path, { tmpDir: tmp });
    assert.equal(r.bom, true);
    assert.equal(r.crlf, true);
    assert.equal(r.normalised, true);
    assert.notEqual(r.uploadPath, path);
    assert.ok(r.uploadPath.startsWith(tmp));
    assert.equal((await checkResult(r)).toString(), "111\n222\n333\n");
    assert.equal(r.inputBytes, 3 + 15);
    assert.equal((await stat(r.uploadPath)).mode & 0o777, 0o600);
    await r.cleanup();
  });

  it("counts blank and whitespace-only lines and drops them", async () => {
    const { path, tmp } = await fileWith("1\n\n2\n   \n\t\n3\n\n");
    const r = await prepareIds(path, { tmpDir: tmp });
    assert.equal(r.lines, 7);
    assert.equal(r.blankLines, 4);
    assert.equal(r.ids, 3);
    assert.equal(r.normalised, true);
    assert.equal((await checkResult(r)).toString(), "1\n2\n3\n");
    await r.cleanup();
  });

  it("trims spaces and tabs around an ID", async () => {
    const { path, tmp } = await fileWith("  12\n34\t\n \t56 \t\r\n78\n");
    const r = await prepareIds(path, { tmpDir: tmp });
    assert.equal(r.ids, 4);
    assert.equal(r.blankLines, 0);
    assert.equal((await checkResult(r)).toString(), "12\n34\n56\n78\n");
    await r.cleanup();
  });

  it("adds a missing final newline", async () => {
    const { path, tmp } = await fileWith("1\n2\n3");
    const r = await prepareIds(path, { tmpDir: tmp });
    assert.equal(r.lines, 3);
    assert.equal(r.normalised, true);
    assert.equal(r.inputBytes, 5);
    assert.equal((await checkResult(r)).toString(), "1\n2\n3\n");
    await r.cleanup();
  });

  it("handles a one-ID file without newline, and a final CR without LF", async () => {
    for (const [content, want] of [
      ["7", "7\n"],
      ["7\r", "7\n"],
      ["\uFEFF7", "7\n"],
      ["5\n6 ", "5\n6\n"],
    ] as const) {
      const { path, tmp } = await fileWith(content);
      const r = await prepareIds(path, { tmpDir: tmp });
      assert.equal((await checkResult(r)).toString(), want, JSON.stringify(content));
      await r.cleanup();
    }
  });

  it("copies the clean prefix when the first change comes late in a large file", async () => {
    // > 4 MiB so that reading takes several chunks; the only change is at the very end.
    const lines: string[] = [];
    for (let k = 0; k < 300_000; k++) lines.push(idOf(k));
    const body = lines.join("\n") + "\n";
    for (const [label, content] of [
      ["no final newline", body.slice(0, -1)],
      ["blank line at the end", body + "\n"],
      ["repeat at the end (dedupe)", body + lines[5] + "\n"],
      ["CRLF at the end", body + "42\r\n"],
    ] as const) {
      const { path, tmp } = await fileWith(content);
      const dedupe = label.includes("dedupe");
      const r = await prepareIds(path, { tmpDir: tmp, dedupe });
      const want = reference(content, dedupe);
      const up = await checkResult(r);
      assert.equal(up.toString(), want.upload, label);
      assert.equal(r.normalised, true, label);
      assert.equal(r.ids, want.ids, label);
      await r.cleanup();
    }
  });

  it("matches the reference on a large messy file, across chunk boundaries", async () => {
    const next = rng(1234);
    const parts: string[] = ["\uFEFF"];
    const pool: string[] = [];
    let size = 0;
    while (size < 9_500_000) {
      const r = next() % 100;
      let line: string;
      if (r < 70) {
        const digits = 1 + (next() % 19);
        line = String(1 + (next() % 9));
        while (line.length < digits) line += String(next() % 10);
        if (pool.length < 5000) pool.push(line);
      } else if (r < 80 && pool.length > 0) line = pool[next() % pool.length]!;
      else if (r < 85) line = " ".repeat(next() % 300) + String(next()) + "\t".repeat(next() % 3);
      else if (r < 90) line = "";
      else if (r < 93) line = " \t ".repeat(1 + (next() % 50));
      else line = "000" + String(next() % 1000); // leading zeros: the same number as without
      const end = next() % 10 === 0 ? "\r\n" : "\n";
      parts.push(line + end);
      size += line.length + end.length;
    }
    const content = parts.join("");
    const { path, tmp } = await fileWith(content);
    for (const dedupe of [false, true]) {
      // Small repeat-counter buffers: the repeats are counted through the spill file and re-split.
      const repeatCounter = { partitions: 8, blockIds: 64, maxInMemory: 3000 };
      const r = await prepareIds(path, { tmpDir: tmp, dedupe, maxBytesPerJob: 1_000_000, maxIdsPerJob: 40_000, repeatCounter });
      const want = reference(content, dedupe);
      const up = await checkResult(r);
      assert.equal(up.length, Buffer.byteLength(want.upload));
      assert.ok(up.toString() === want.upload, "upload matches the reference");
      assert.equal(r.ids, want.ids);
      assert.equal(r.blankLines, want.blank);
      assert.equal(r.duplicates, want.dups);
      assert.equal(r.lines, want.lines);
      assert.equal(r.bom, true);
      assert.equal(r.crlf, true);
      assert.ok(r.parts.length > 1);
      for (const p of r.parts) assert.ok(p.ids <= 40_000 && p.bytes <= 1_000_000);
      await r.cleanup();
      assert.deepEqual(await readdir(tmp), [], "no spill or normalised file left");
    }
    // The same through stdin, in awkward chunk sizes.
    const buf = Buffer.from(content);
    const chunks: Buffer[] = [];
    for (let pos = 0, k = 1; pos < buf.length; k++) {
      const len = k < 6 ? 1 : 1 + (next() % 200_000);
      chunks.push(buf.subarray(pos, pos + len));
      pos += len;
    }
    const r = await prepareIds("-", { tmpDir: tmp, stdin: stdinOf(chunks) });
    assert.equal((await checkResult(r)).toString(), reference(content, false).upload);
    await r.cleanup();
  });

  describe("errors", () => {
    it("missing file", async () => {
      const { dir, tmp } = await scratch();
      const path = join(dir, "nope.txt");
      await rejects(prepareIds(path, { tmpDir: tmp }), `cannot read the ID file ${path}: no such file; check the path, or pass - to read IDs from stdin.`);
      assert.equal(idFileMessages.missing(path), `cannot read the ID file ${path}: no such file; check the path, or pass - to read IDs from stdin.`);
    });

    it("a directory", async () => {
      const { dir, tmp } = await scratch();
      await rejects(prepareIds(dir, { tmpDir: tmp }), `cannot read the ID file ${dir}: it is a directory; check the path, or pass - to read IDs from stdin.`);
    });

    it("an unreadable file", { skip: process.getuid?.() === 0 ? "root can read anything" : false }, async () => {
      const { path, tmp } = await fileWith("1\n");
      await chmod(path, 0o000);
      await rejects(
        prepareIds(path, { tmpDir: tmp }),
        `cannot read the ID file ${path}: permission denied; check the file's permissions, or pass - to read IDs from stdin.`,
      );
    });

    it("an empty file, and one with only blank lines", async () => {
      for (const content of ["", "\n", "  \n\t\n\r\n", "\uFEFF", "\uFEFF\n \n"]) {
        const { path, tmp } = await fileWith(content);
        await rejects(prepareIds(path, { tmpDir: tmp }), `the ID file ${path} holds no IDs; put one Post or user ID per line.`);
        assert.deepEqual(await readdir(tmp), [], "no temp files left");
      }
      const { tmp } = await scratch();
      await rejects(prepareIds("-", { tmpDir: tmp, stdin: stdinOf(["\n\n"]) }), "the ID file stdin holds no IDs; put one Post or user ID per line.");
      assert.deepEqual(await readdir(tmp), [], "no spool file left");
    });

    it("invalid lines: count and examples with line numbers", async () => {
      const { path, tmp } = await fileWith("1\nabc\n3\n\n5\n6\n12x\n8\n1 2\n10\n");
      await rejects(
        prepareIds(path, { tmpDir: tmp }),
        `the ID file ${path} has 3 invalid lines (line 2: "abc", line 7: "12x", line 9: "1 2"); each line must be one Post or user ID of 1–19 digits.`,
      );
      assert.deepEqual(await readdir(tmp), []);
    });

    it("one invalid line; signs, decimals, too many digits", async () => {
      const cases: [string, string][] = [
        ["-5\n", `1 invalid line (line 1: "-5")`],
        ["1\n+5\n", `1 invalid line (line 2: "+5")`],
        ["1.5\n", `1 invalid line (line 1: "1.5")`],
        ["12345678901234567890\n", `1 invalid line (line 1: "12345678901234567890")`],
        ["1\n2\n  x y  \r\n", `1 invalid line (line 3: "x y")`],
        ["1\n2\r3\n", `1 invalid line (line 2: "2\\r3")`],
        ["\uFEFF1\n\uFEFF2\n", `1 invalid line (line 2: "\uFEFF2")`],
        ["1\n9\u00e9\n", `1 invalid line (line 2: "9\u00e9")`],
      ];
      for (const [content, what] of cases) {
        const { path, tmp } = await fileWith(content);
        await rejects(prepareIds(path, { tmpDir: tmp }), `the ID file ${path} has ${what}; each line must be one Post or user ID of 1–19 digits.`);
      }
    });

    it("more than 5 invalid lines: all counted, 5 quoted, long text cut to 40 characters", async () => {
      const long = "y".repeat(100);
      const { path, tmp } = await fileWith(`a\nb\n1\nc\n${long}\nd\ne\nf\n2\n`);
      await rejects(
        prepareIds(path, { tmpDir: tmp }),
        `the ID file ${path} has 7 invalid lines (line 1: "a", line 2: "b", line 4: "c", line 5: "${"y".repeat(39)}…", line 6: "d"); each line must be one Post or user ID of 1–19 digits.`,
      );
    });

    it("a line longer than 1024 bytes is invalid, even if only spaces around an ID", async () => {
      const { path, tmp } = await fileWith(`1\n${" ".repeat(1100)}2\n`);
      await rejects(
        prepareIds(path, { tmpDir: tmp }),
        `the ID file ${path} has 1 invalid line (line 2: "2"); each line must be one Post or user ID of 1–19 digits.`,
      );
    });

    it("a bad line deep inside a large file: right line number, no temp files", async () => {
      const lines: string[] = [];
      for (let k = 0; k < 400_000; k++) lines.push(idOf(k));
      lines[333_332] = "12345x";
      lines.push("");
      lines.unshift("\uFEFF5"); // forces a normalised copy, which must be removed
      const { path, tmp } = await fileWith(lines.join("\r\n"));
      await rejects(
        prepareIds(path, { tmpDir: tmp }),
        `the ID file ${path} has 1 invalid line (line 333334: "12345x"); each line must be one Post or user ID of 1–19 digits.`,
      );
      assert.deepEqual(await readdir(tmp), []);
    });

    it("no usable temporary directory: the normalised copy, and the repeat count's scratch file", async () => {
      const { dir } = await scratch();
      const missing = join(dir, "no-such-tmp");
      const messy = await fileWith("1\r\n2\r\n");
      await rejects(
        prepareIds(messy.path, { tmpDir: missing }),
        `cannot write the normalised ID file in ${missing}: no such file; free some space or choose another temporary directory (TMPDIR).`,
      );
      // A clean file needs no copy, but enough IDs fill the repeat counter's buffers (tiny here).
      const clean = await fileWith(Array.from({ length: 200 }, (_, k) => idOf(k)).join("\n") + "\n");
      await rejects(
        prepareIds(clean.path, { tmpDir: missing, repeatCounter: { partitions: 2, blockIds: 4 } }),
        `cannot count repeated IDs: the scratch file in ${missing} failed: no such file; free some space (about 8 bytes per ID) or choose another temporary directory (TMPDIR).`,
      );
      // With room, the same file goes through the scratch file and leaves nothing behind.
      const r = await prepareIds(clean.path, { tmpDir: clean.tmp, repeatCounter: { partitions: 2, blockIds: 4 } });
      assert.equal(r.ids, 200);
      assert.equal(r.duplicates, 0);
      assert.deepEqual(await readdir(clean.tmp), []);
      await r.cleanup();
    });

    it("a huge line without newline is reported, not held in memory", async () => {
      const { path, tmp } = await fileWith("1\n" + "z".repeat(9_000_000));
      await rejects(
        prepareIds(path, { tmpDir: tmp }),
        `the ID file ${path} has 1 invalid line (line 2: "${"z".repeat(39)}…"); each line must be one Post or user ID of 1–19 digits.`,
      );
    });

    it("UTF-16 text", async () => {
      const { path, tmp } = await fileWith(Buffer.from("\uFEFF1\r\n2\r\n", "utf16le"));
      await rejects(
        prepareIds(path, { tmpDir: tmp }),
        `the ID file ${path} is UTF-16 encoded; save it as UTF-8 (or plain ASCII) with one Post or user ID per line.`,
      );
    });

    it("bad limits", async () => {
      const { path, tmp } = await fileWith("1\n");
      await assert.rejects(prepareIds(path, { tmpDir: tmp, maxIdsPerJob: 0 }), UsageError);
      await assert.rejects(prepareIds(path, { tmpDir: tmp, maxBytesPerJob: 10 }), UsageError);
    });
  });

  describe("stdin", () => {
    it("spools stdin to a private temp file, even when clean", async () => {
      const { tmp } = await scratch();
      const r = await prepareIds("-", { tmpDir: tmp, stdin: stdinOf(["1\n2", "2\n3", "33\n"]) });
      assert.equal(r.source, "stdin");
      assert.ok(r.uploadPath.startsWith(tmp));
      assert.equal(r.normalised, false);
      assert.equal((await checkResult(r)).toString(), "1\n22\n333\n");
      assert.equal((await stat(r.uploadPath)).mode & 0o777, 0o600);
      const dirs = await readdir(tmp);
      assert.equal(dirs.length, 1);
      assert.equal((await stat(join(tmp, dirs[0]!))).mode & 0o777, 0o700);
      await r.cleanup();
      assert.deepEqual(await readdir(tmp), []);
    });

    it("normalises stdin in the same spool (BOM split across chunks, CRLF, blanks, no final newline)", async () => {
      const { tmp } = await scratch();
      const bom = Buffer.from("\uFEFF");
      const r = await prepareIds("-", {
        tmpDir: tmp,
        stdin: stdinOf([bom.subarray(0, 1), bom.subarray(1, 2), Buffer.concat([bom.subarray(2), Buffer.from("7\r")]), "\n\n 8 \n9"]),
      });
      assert.equal(r.bom, true);
      assert.equal(r.crlf, true);
      assert.equal(r.normalised, true);
      assert.equal(r.blankLines, 1);
      assert.equal((await checkResult(r)).toString(), "7\n8\n9\n");
      const dirs = await readdir(tmp);
      assert.deepEqual(await readdir(join(tmp, dirs[0]!)), ["stdin.ids"], "one spool file, no second copy");
      await r.cleanup();
    });

    it("leaves the caller's chunks untouched", async () => {
      const { tmp } = await scratch();
      const chunk = Buffer.from("1\n\n 2\n1\n");
      const r = await prepareIds("-", { tmpDir: tmp, stdin: stdinOf([chunk]), dedupe: true });
      assert.equal((await checkResult(r)).toString(), "1\n2\n");
      assert.equal(chunk.toString(), "1\n\n 2\n1\n");
      await r.cleanup();
    });
  });

  describe("duplicates", () => {
    it("counts them without dedupe and keeps them", async () => {
      const { path, tmp } = await fileWith("5\n3\n5\n1\n3\n5\n");
      const r = await prepareIds(path, { tmpDir: tmp });
      assert.equal(r.duplicates, 3);
      assert.equal(r.ids, 6);
      assert.equal(r.uploadPath, path, "still clean");
      await r.cleanup();
    });

    it("drops them with dedupe, keeping the order of first occurrence", async () => {
      const { path, tmp } = await fileWith("5\n3\n5\n1\n3\n005\n2\n");
      const r = await prepareIds(path, { tmpDir: tmp, dedupe: true });
      assert.equal(r.duplicates, 3);
      assert.equal(r.ids, 4);
      assert.equal(r.normalised, true);
      assert.equal((await checkResult(r)).toString(), "5\n3\n1\n2\n");
      await r.cleanup();
    });

    it("with dedupe and no repeats, a clean file is still used as is", async () => {
      const { path, tmp } = await fileWith("1\n2\n");
      const r = await prepareIds(path, { tmpDir: tmp, dedupe: true });
      assert.equal(r.uploadPath, path);
      await r.cleanup();
    });
  });

  describe("parts", () => {
    it("splits by ID count with exact offsets", async () => {
      const { path, tmp } = await fileWith("1\n22\n333\n4444\n55555\n");
      const r = await prepareIds(path, { tmpDir: tmp, maxIdsPerJob: 2 });
      assert.deepEqual(r.parts, [
        { index: 0, start: 0, end: 5, ids: 2, bytes: 5 },
        { index: 1, start: 5, end: 14, ids: 2, bytes: 9 },
        { index: 2, start: 14, end: 20, ids: 1, bytes: 6 },
      ]);
      await checkResult(r);
      await r.cleanup();
    });

    it("splits by bytes with exact offsets, in the normalised file", async () => {
      const { path, tmp } = await fileWith("\uFEFF1234567890\r\n1234567891\r\n1234567892\r\n1\r\n2\r\n");
      const r = await prepareIds(path, { tmpDir: tmp, maxBytesPerJob: 22 });
      assert.deepEqual(r.parts, [
        { index: 0, start: 0, end: 22, ids: 2, bytes: 22 },
        { index: 1, start: 22, end: 37, ids: 3, bytes: 15 },
      ]);
      const up = await checkResult(r);
      assert.equal(
        Buffer.concat(r.parts.map((p) => up.subarray(p.start, p.end))).toString(),
        "1234567890\n1234567891\n1234567892\n1\n2\n",
      );
      await r.cleanup();
    });

    it("a part may be exactly the byte limit", async () => {
      const { path, tmp } = await fileWith("1234567890123456789\n1234567890123456788\n");
      const r = await prepareIds(path, { tmpDir: tmp, maxBytesPerJob: 20 });
      assert.deepEqual(
        r.parts.map((p) => [p.start, p.end]),
        [
          [0, 20],
          [20, 40],
        ],
      );
      await r.cleanup();
    });

    it("one part when under the limits; default byte limit is 128,000,000", async () => {
      const { path, tmp } = await fileWith("1\n2\n");
      const r = await prepareIds(path, { tmpDir: tmp, maxIdsPerJob: 2, maxBytesPerJob: 20 });
      assert.equal(r.parts.length, 1);
      await r.cleanup();
    });
  });

  describe("lifecycle", () => {
    it("cleanup removes the temp files and is idempotent", async () => {
      const { path, tmp } = await fileWith("1\r\n");
      const r = await prepareIds(path, { tmpDir: tmp });
      assert.equal((await readdir(tmp)).length, 1);
      await r.cleanup();
      await r.cleanup();
      assert.deepEqual(await readdir(tmp), []);
    });

    it("rejects with the signal's reason when already aborted", async () => {
      const { path, tmp } = await fileWith("1\n");
      const ac = new AbortController();
      const reason = new Error("stop");
      ac.abort(reason);
      await assert.rejects(prepareIds(path, { tmpDir: tmp, signal: ac.signal }), (err) => err === reason);
    });

    it("rejects with the signal's reason when aborted while reading, and removes the spool", async () => {
      const { tmp } = await scratch();
      const stdin = new Readable({ read() {} });
      stdin.push("1\n2\n");
      const ac = new AbortController();
      const reason = new Error("interrupted");
      const p = prepareIds("-", { tmpDir: tmp, stdin, signal: ac.signal });
      setTimeout(() => ac.abort(reason), 50);
      await assert.rejects(p, (err) => err === reason);
      assert.deepEqual(await readdir(tmp), []);
    });

    it("reports progress, last with the totals", async () => {
      const { path, tmp } = await fileWith("1\n2\n3\n");
      const seen: { bytes: number; ids: number }[] = [];
      const opts: PrepareIdsOptions = { tmpDir: tmp, onProgress: (p) => seen.push(p) };
      const r = await prepareIds(path, opts);
      assert.ok(seen.length >= 1 && seen.length <= 3);
      assert.deepEqual(seen.at(-1), { bytes: 6, ids: 3 });
      await r.cleanup();
    });
  });
});
