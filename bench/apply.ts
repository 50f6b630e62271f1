// Throughput and memory of `compliant apply` (target: 1M result events applied to a 5M-record
// JSONL dataset of v2 Posts at ≥ 100 MB/s on one core with peak RSS ≤ 200 MB). The same Posts as
// a twarc-csv-style CSV are applied too, for a CSV figure (`--no-csv` skips it), and both again
// gzipped (`.jsonl.gz`, `.csv.gz`, written back gzipped as apply does by name; `--no-gz` skips
// them). Throughput is MB of the dataset (uncompressed, for a gzip file) per second.
//
//   node dist/bench/apply.js [--records 5000000] [--events 1000000] [--dir /tmp/compliant-bench] [--no-csv] [--no-gz]
//
// The datasets and results are generated once in os.tmpdir() (streamed to disk; a .gz is the plain
// file streamed through gzip) and reused. The apply itself runs in a child process, so its peak
// RSS (process.resourceUsage().maxRSS) excludes the generator.

import { spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createGzip } from "node:zlib";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

// Deterministic PRNG so runs are comparable.
let seed = 42;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const BASE = 1400000000000000000n;
const postId = (i: number) => (BASE + BigInt(i) * 7919n).toString();

const WORDS = ["compliance", "archive", "research", "data", "the", "of", "and", "a", "🚀", "café", '"quoted"', "https://t.co/abcdEFGH12", "#opendata", "@someone"];

function post(i: number): string {
  const id = postId(i);
  let text = "";
  const n = 10 + Math.floor(rnd() * 35);
  for (let k = 0; k < n; k++) text += `${WORDS[Math.floor(rnd() * WORDS.length)]} `;
  const p: Record<string, unknown> = {
    id,
    text: text.trim(),
    author_id: String(100000 + Math.floor(rnd() * 5e8)),
    conversation_id: id,
    created_at: "2021-10-07T07:41:18.000Z",
    lang: "en",
    edit_history_tweet_ids: [id],
    public_metrics: { retweet_count: Math.floor(rnd() * 100), reply_count: 3, like_count: Math.floor(rnd() * 1000), quote_count: 0 },
    possibly_sensitive: false,
    reply_settings: "everyone",
  };
  if (rnd() < 0.3) p.entities = { mentions: [{ start: 0, end: 8, username: "someone", id: String(200000 + i) }] };
  if (rnd() < 0.2) p.referenced_tweets = [{ type: "replied_to", id: postId(Math.floor(rnd() * i)) }];
  if (rnd() < 0.05) p.geo = { place_id: "01a9a39529b27f36", coordinates: { type: "Point", coordinates: [-73.99, 40.73] } };
  return JSON.stringify(p);
}

/** The same Post as a CSV row: id, author_id, created_at, text (quoted), geo columns. */
function csvRow(i: number): string {
  const p = JSON.parse(post(i)) as { id: string; author_id: string; created_at: string; text: string; geo?: { place_id: string; coordinates: { coordinates: number[] } } };
  const geo = p.geo ? `"[${p.geo.coordinates.coordinates.join(", ")}]",${p.geo.place_id}` : ",";
  return `${p.id},${p.author_id},${p.created_at},"${p.text.replaceAll('"', '""')}",${geo}`;
}

async function writeLines(path: string, count: number, line: (i: number) => string): Promise<void> {
  const partial = `${path}.partial`;
  const out = createWriteStream(partial);
  let batch: string[] = [];
  for (let i = 0; i < count; i++) {
    batch.push(line(i));
    if (batch.length === 10000) {
      if (!out.write(`${batch.join("\n")}\n`)) await new Promise<void>((r) => out.once("drain", () => r()));
      batch = [];
    }
  }
  if (batch.length) out.write(`${batch.join("\n")}\n`);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  renameSync(partial, path);
}

async function generate(dir: string, records: number, events: number): Promise<{ dataset: string; results: string }> {
  mkdirSync(dir, { recursive: true });
  const dataset = join(dir, `posts-${records}.jsonl`);
  const results = join(dir, `results-${records}-${events}.ndjson`);
  if (!existsSync(dataset)) {
    process.stderr.write(`generating ${dataset} …\n`);
    await writeLines(dataset, records, post);
  }
  if (!existsSync(results)) {
    process.stderr.write(`generating ${results} …\n`);
    // 70% of events hit a record of the dataset, 30% name Posts it does not hold; 90% delete,
    // 8% scrub_geo, 2% rehydrate; a blank line every 100k, as in real files.
    const hits = Math.floor(events * 0.7);
    await writeLines(results, events, (k) => {
      const id = k < hits ? postId(Math.floor((k * records) / hits)) : (BASE + BigInt(k) * 7919n + 1n).toString();
      const r = rnd();
      const [action, reason] = r < 0.9 ? ["delete", rnd() < 0.5 ? "deleted" : "suspended"] : r < 0.98 ? ["scrub_geo", "scrub_geo"] : ["rehydrate", "protected"];
      const line = `{"id":"${id}","action":"${action}","created_at":"2019-08-10T12:22:39.022Z","reason":"${reason}"}`;
      return k > 0 && k % 100000 === 0 ? `\n${line}` : line;
    });
  }
  return { dataset, results };
}

async function generateCsv(dir: string, records: number): Promise<string> {
  const dataset = join(dir, `posts-${records}.csv`);
  if (!existsSync(dataset)) {
    process.stderr.write(`generating ${dataset} …\n`);
    seed = 42;
    await writeLines(dataset, records + 1, (i) => (i === 0 ? "id,author_id,created_at,text,geo.coordinates.coordinates,geo.place_id" : csvRow(i - 1)));
  }
  return dataset;
}

/** `<plain>.gz`, made once by streaming the plain file through gzip (level 6, as `gzip` does). */
async function gzipped(plain: string): Promise<string> {
  const gz = `${plain}.gz`;
  if (!existsSync(gz)) {
    process.stderr.write(`generating ${gz} …\n`);
    await pipeline(createReadStream(plain, { highWaterMark: 1 << 20 }), createGzip({ level: 6 }), createWriteStream(`${gz}.partial`));
    renameSync(`${gz}.partial`, gz);
  }
  return gz;
}

async function child(dataset: string, results: string, output: string): Promise<void> {
  const { run } = await import("../src/jobs/apply.js");
  const { createLog } = await import("../src/output/log.js");
  const stderr = new PassThrough();
  stderr.pipe(process.stderr);
  const started = process.hrtime.bigint();
  await run(
    { args: [dataset], results, output, force: true },
    {
      flags: {},
      env: {},
      cwd: process.cwd(),
      stdin: Readable.from([]),
      stdout: process.stdout,
      stderr,
      log: createLog({ policy: { fancy: false, quiet: false, verbose: false }, stderr }),
      signal: new AbortController().signal,
      api: () => Promise.reject(new Error("no API in the bench")),
    },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
}

async function main(): Promise<void> {
  if (process.argv[2] === "--child") return child(process.argv[3]!, process.argv[4]!, process.argv[5]!);
  const records = Number(arg("records", "5000000"));
  const events = Number(arg("events", "1000000"));
  const dir = arg("dir", join(tmpdir(), "compliant-bench"));
  const { dataset, results } = await generate(dir, records, events);
  const self = fileURLToPath(import.meta.url);
  /** One apply run; `plainBytes` is the uncompressed size of a gzip dataset. */
  const measure = (path: string, label: string, plainBytes?: number) => {
    const output = join(dir, `out${/\.csv(\.gz)?$/.test(path) ? ".csv" : ".jsonl"}${path.endsWith(".gz") ? ".gz" : ""}`);
    const r = spawnSync(process.execPath, [self, "--child", path, results, output], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (r.status !== 0) throw new Error(`apply failed with exit ${r.status}`);
    const { seconds, maxRssMB } = JSON.parse(r.stdout.trim().split("\n").pop()!) as { seconds: number; maxRssMB: number };
    const fileMb = statSync(path).size / 1e6;
    const mb = plainBytes === undefined ? fileMb : plainBytes / 1e6;
    const outMb = statSync(output).size / 1e6;
    rmSync(output, { force: true });
    const fmt = (n: number, d = 1) => n.toFixed(d);
    process.stdout.write(
      [
        `${label}: node ${process.version}, ${records.toLocaleString("en-US")} records, ${events.toLocaleString("en-US")} result events`,
        plainBytes === undefined ? `dataset      ${fmt(mb)} MB (output ${fmt(outMb)} MB)` : `dataset      ${fmt(mb)} MB uncompressed, ${fmt(fileMb)} MB gzip (output ${fmt(outMb)} MB gzip)`,
        `time         ${fmt(seconds, 2)} s`,
        `throughput   ${fmt(mb / seconds)} MB/s of the dataset${plainBytes === undefined ? "" : ` (${fmt(fileMb / seconds)} MB/s of the gzip file)`}, ${Math.round(records / seconds).toLocaleString("en-US")} records/s`,
        `peak RSS     ${fmt(maxRssMB)} MB (apply process)`,
        "",
      ].join("\n"),
    );
  };
  const gz = !process.argv.includes("--no-gz");
  measure(dataset, "JSONL");
  if (gz) measure(await gzipped(dataset), "JSONL, gzipped (.jsonl.gz)", statSync(dataset).size);
  if (!process.argv.includes("--no-csv")) {
    const csv = await generateCsv(dir, records);
    measure(csv, "CSV (twarc-csv columns)");
    if (gz) measure(await gzipped(csv), "CSV, gzipped (.csv.gz)", statSync(csv).size);
  }
}

await main();
