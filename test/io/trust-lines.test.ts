// LineSplitter on hostile input: a long line costs linear work whatever the chunking, a line over
// the cap fails before its end arrives, and the lines are the same however the bytes are cut.

import assert from "node:assert/strict";
import { test } from "node:test";
import { LineSplitter, LineTooLongError } from "../../src/io/lines.js";
import { rng } from "../helpers/rng.js";

function split(chunks: Buffer[], opts?: ConstructorParameters<typeof LineSplitter>[1]): { lines: string[]; splitter: LineSplitter } {
  const lines: string[] = [];
  const splitter = new LineSplitter((buf, s, e) => lines.push(buf.toString("latin1", s, e)), opts);
  for (const c of chunks) splitter.push(c);
  splitter.end();
  return { lines, splitter };
}

function cut(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

test("a long line split over many small chunks is gathered with linear work", () => {
  const length = 4 * 1024 * 1024;
  const line = Buffer.alloc(length, 0x61);
  const { lines, splitter } = split([...cut(line, 64), Buffer.from("\nnext\n")]);
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!.length, length);
  assert.equal(lines[1], "next");
  // Each byte is copied into the tail once, plus the doublings' re-copies (less than once more):
  // re-copying the whole tail for every chunk would be ~65,536 times the line.
  assert.ok(splitter.copiedBytes <= 3 * length, `copied ${splitter.copiedBytes} bytes for a ${length}-byte line`);
});

test("a line over the cap fails as soon as the cap is passed, before its end arrives", () => {
  const seen: string[] = [];
  const splitter = new LineSplitter((buf, s, e) => seen.push(buf.toString("latin1", s, e)), { maxLineBytes: 1000 });
  splitter.push(Buffer.from("short\n" + "x".repeat(600)));
  assert.throws(() => splitter.push(Buffer.alloc(600, 0x78)), (e: unknown) => e instanceof LineTooLongError && e.lineNo === 2 && e.limit === 1000);
  assert.deepEqual(seen, ["short"]);

  // Inside one chunk too, and with the caller's own error, quoting the line's start.
  const custom = new LineSplitter(() => undefined, { maxLineBytes: 10, tooLong: (lineNo, head) => new Error(`line ${lineNo} starts ${head.toString()}`) });
  assert.throws(() => custom.push(Buffer.from("ok\n0123456789abcdef\n")), /^Error: line 2 starts 0123456789abcdef$/);
  // A line of exactly the cap is fine.
  assert.deepEqual(split([Buffer.from("0123456789\n")], { maxLineBytes: 10 }).lines, ["0123456789"]);
});

test("lines are the same however the bytes are cut into chunks", () => {
  const next = rng(16);
  const parts: string[] = [];
  for (let i = 0; i < 300; i++) {
    const kind = next() % 5;
    parts.push(kind === 0 ? "" : kind === 1 ? "x".repeat(next() % 20_000) : `line ${i}\r`);
  }
  const text = parts.join("\n") + (next() % 2 ? "\n" : "tail without newline");
  const whole = Buffer.from(text, "latin1");
  const expected = split([whole]).lines;
  assert.equal(expected.length, parts.length);
  for (let round = 0; round < 20; round++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < whole.length; ) {
      const n = 1 + (next() % (round % 2 ? 7 : 30_000));
      chunks.push(Buffer.from(whole.subarray(i, i + n)));
      i += n;
    }
    assert.deepEqual(split(chunks).lines, expected, `round ${round}`);
  }
});

test("a view of a gathered line stays intact after later lines are gathered", () => {
  const kept: Buffer[] = [];
  const splitter = new LineSplitter((buf, s, e) => kept.push(buf.subarray(s, e)));
  for (const c of [..."aaaa\nbbbb\n"].map((ch) => Buffer.from(ch))) splitter.push(c);
  assert.deepEqual(kept.map((b) => b.toString()), ["aaaa", "bbbb"]);
});

test("a gathered line, or a last line without newline, is handed over as a buffer of exactly that line", () => {
  const seen: Array<[number, number, number]> = [];
  const splitter = new LineSplitter((buf, s, e) => seen.push([s, e, buf.length]));
  for (const c of ["ab", "cd\nef", "gh"]) splitter.push(Buffer.from(c));
  splitter.end();
  assert.deepEqual(seen, [[0, 4, 4], [0, 4, 4]]);
});
