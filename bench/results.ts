// Throughput of ResultParser (the download's per-line validation and counting) over ~200 MB of
// generated result lines held in memory (no disk, no network: only the parser is timed).
//
//   node dist/bench/results.js [--mb 200] [--runs 5] [--flow storage|api]
//
// Figures (2 shared cores, medians of 7 runs, interleaved): before distinct-ID counting ~350 ms
// (~570 MB/s) for 200 MB / 1.57M lines of the storage flow; with it ~500 ms (~400 MB/s).
//
// Lines are the emulator's (src/emulator/results.ts) for distinct IDs whose last two digits are
// 0–9 (storage flow: one line each, no duplicates) or 0–15 (api flow: duplicates included).

import { expectedResultsFile } from "../src/emulator/results.js";
import { ResultParser } from "../src/io/results.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const mb = Number(arg("mb", "200"));
const runs = Number(arg("runs", "5"));
const flow = arg("flow", "storage") as "storage" | "api";
const span = flow === "api" ? 16 : 10;
const BASE = 1400000000000000000n;

function generate(): Buffer[] {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let i = 0;
  while (bytes < mb * 1e6) {
    const ids: string[] = [];
    for (let k = 0; k < 10000; k++, i++) ids.push((BASE + BigInt(Math.floor(i / span)) * 100n + BigInt(i % span)).toString());
    const b = Buffer.from(expectedResultsFile(ids, "tweets", flow));
    bytes += b.length;
    chunks.push(b);
  }
  // Re-cut into 64 KiB pieces, as a download delivers them.
  const all = Buffer.concat(chunks);
  const out: Buffer[] = [];
  for (let at = 0; at < all.length; at += 65536) out.push(all.subarray(at, Math.min(all.length, at + 65536)));
  return out;
}

const chunks = generate();
const total = chunks.reduce((n, c) => n + c.length, 0);
const times: number[] = [];
let events = 0;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  // As the download runs it: no per-line callback (the byte fast path), counts only.
  const parser = new ResultParser("bench");
  for (const c of chunks) parser.push(c);
  const stats = parser.end();
  times.push(performance.now() - t0);
  events = stats.events;
}
times.sort((a, b) => a - b);
const med = times[Math.floor(times.length / 2)]!;
process.stdout.write(
  `${flow} flow: ${(total / 1e6).toFixed(1)} MB, ${events.toLocaleString("en-US")} events; median ${med.toFixed(0)} ms (${(total / 1e6 / (med / 1000)).toFixed(0)} MB/s), min ${times[0]!.toFixed(0)} ms, max ${times[times.length - 1]!.toFixed(0)} ms over ${runs} runs\n`,
);
