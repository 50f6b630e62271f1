// Benchmark of prepareIds: node dist/bench/ids.js [count]
// Generates (once) a file of `count` random 18–19 digit IDs in os.tmpdir() and times a
// plain validation pass and a dedupe pass, each in a fresh child process so that peak
// RSS (maxRSS) is per mode.
import { execFileSync } from "node:child_process";
import { stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { prepareIds } from "../src/io/ids.js";
import { writeIdFile } from "./gen.js";

async function runOne(path: string, mode: string): Promise<void> {
  const t0 = process.hrtime.bigint();
  const r = await prepareIds(path, { dedupe: mode === "dedupe" });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await r.cleanup();
  const mb = r.inputBytes / 1e6;
  console.log(
    [
      mode.padEnd(7),
      `${r.inputBytes} bytes`,
      `${r.ids} IDs`,
      `${r.duplicates} dup`,
      `${s.toFixed(3)} s`,
      `${(mb / s).toFixed(0)} MB/s`,
      `${((r.lines / s) / 1e6).toFixed(1)}M IDs/s`,
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
      `${r.parts.length} part(s)`,
    ].join("  "),
  );
}

async function main(): Promise<void> {
  const [, , a, b] = process.argv;
  if (a === "--child") {
    await runOne(b ?? "", process.argv[4] ?? "plain");
    return;
  }
  const count = a === undefined ? 10_000_000 : Number(a);
  if (!Number.isInteger(count) || count < 1) throw new Error(`usage: node dist/bench/ids.js [count]`);
  const path = join(tmpdir(), `compliant-bench-ids-${count}.txt`);
  const exists = await stat(path).then(
    (s) => s.size > 0,
    () => false,
  );
  if (!exists) {
    const t0 = Date.now();
    const bytes = await writeIdFile(path, count, 42);
    console.log(`generated ${path}: ${count} IDs, ${bytes} bytes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else {
    console.log(`using ${path}`);
  }
  // Context for the figures: what first touching fresh memory costs on this machine
  // (the IdSet table for 10M IDs is 128 MiB; some VMs fault pages in very slowly).
  const t0 = process.hrtime.bigint();
  new Uint32Array(32 * 1024 * 1024).fill(1);
  console.log(`first touch of 128 MiB: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`);
  const self = fileURLToPath(import.meta.url);
  for (const mode of ["plain", "dedupe", "plain"]) {
    process.stdout.write(execFileSync(process.execPath, [self, "--child", path, mode], { encoding: "utf8" }));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
