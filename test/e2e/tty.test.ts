// Progress on a terminal: a spinner where the terminal has a width, plain lines where it reports
// none (a pty opened without a size, as some CI runners and `script` make), and never a stall.
// The terminal is a real pseudo-terminal made by Python's pty module (skipped without python3).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { BIN, ROOT, tempDir } from "../helpers/cli.js";

const PTY = join(ROOT, "test", "helpers", "pty-run.py");
const python = spawnSync("python3", ["-c", "import pty"]).status === 0;

function onPty(cols: number, args: string[], cwd: string): { code: number | string; bytes: number; output: string } {
  const r = spawnSync("python3", [PTY, String(cols), "60", process.execPath, BIN, ...args], { cwd, encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd, TERM: "xterm" } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { code: number | string; bytes: number; output: string };
}

test("apply on a terminal with no width finishes with plain lines; with a width it shows a spinner", { skip: !python && "python3 with pty is not available" }, async (t) => {
  const dir = await tempDir(t, "compliant-tty-");
  const lines: string[] = [];
  for (let i = 0; i < 200_000; i++) lines.push(`{"id":"15000000${String(i).padStart(11, "0")}","text":"post ${i} with some text to make the line longer than a few bytes"}`);
  await writeFile(join(dir, "a.jsonl"), `${lines.join("\n")}\n`);
  await writeFile(join(dir, "r.ndjson"), `{"id":"1500000000000000000","action":"delete","created_at":"2024-01-01T00:00:00.000Z","redacted_at":"2024-02-01T00:00:00.000Z","reason":"deleted"}\n`);
  const flat = onPty(0, ["apply", "-r", "r.ndjson", "a.jsonl", "-o", "out.jsonl"], dir);
  assert.equal(flat.code, 0, flat.output);
  assert.ok(flat.bytes < 4000, `a few lines, not a redrawing spinner (${flat.bytes} bytes)`);
  assert.match(flat.output, /read 200000 lines of a\.jsonl, removed 1 record/);
  const wide = onPty(80, ["apply", "-r", "r.ndjson", "a.jsonl", "-o", "out2.jsonl"], dir);
  assert.equal(wide.code, 0, wide.output);
  assert.match(wide.output, /read 200000 lines of a\.jsonl, removed 1 record/);
});
