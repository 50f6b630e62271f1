// The package as a user gets it: built and packed (`npm pack`) from a copy of the checkout,
// installed into an empty folder, then the README's library example is run from that folder
// against the emulator, and TypeScript type-checks a file importing "compliant".
//
// Installing: `npm install --offline <tgz>` is tried first; it needs the dependencies in npm's
// cache. When they are not there (a machine without network), the tarball is unpacked into
// node_modules/compliant as npm would, and its dependencies are linked from this checkout's
// node_modules (same lock file), so the package's own files are still exactly the tarball's.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { startEmulator } from "../../src/emulator/server.js";
import { cleanEnv, ROOT, runCli, tempDir } from "../helpers/cli.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env: cleanEnv(cwd, env), stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

const node = (args: string[], cwd: string, env: Record<string, string | undefined> = {}) => run(process.execPath, args, cwd, env);
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

/** The README's code between the library-example markers (its one ```js block). */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const m = /<!-- library-example:start -->\s*```js\n([\s\S]*?)```\s*<!-- library-example:end -->/.exec(readme);
  assert.ok(m, "README.md has a ```js block between <!-- library-example:start --> and <!-- library-example:end -->");
  return m[1]!;
}

function ids(n: number, first: bigint): string {
  return Array.from({ length: n }, (_, i) => String(first + BigInt(i))).join("\n") + "\n";
}

/** Builds and packs a copy of the checkout once (so the checkout's dist/, used by tests running beside this, is untouched). */
let packing: Promise<{ tgz: string; stderr: string }> | undefined;
let packDir: string | undefined;
function packOnce(): Promise<{ tgz: string; stderr: string }> {
  return (packing ??= (async () => {
    const dir = (packDir = await mkdtemp(join(tmpdir(), "compliant-pack-")));
    const src = join(dir, "src");
    await mkdir(src);
    for (const f of ["package.json", "README.md", "LICENSE", ".env.example", "tsconfig.json", "tsconfig.build.json", "bin", "src", "examples"]) {
      await cp(join(ROOT, f), join(src, f), { recursive: true });
    }
    await symlink(join(ROOT, "node_modules"), join(src, "node_modules"));
    const build = await node([TSC, "-p", "tsconfig.build.json"], src);
    assert.equal(build.code, 0, build.stdout + build.stderr);
    const pack = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], src);
    assert.equal(pack.code, 0, pack.stderr);
    const result = (JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
    const shipped = result.files.map((f) => f.path);
    for (const f of ["dist/src/index.js", "dist/src/index.d.ts", "bin/compliant.js", ".env.example", "LICENSE", "README.md", "examples/tweet-ids.txt"]) {
      assert.ok(shipped.includes(f), `the package ships ${f}`);
    }
    assert.ok(!shipped.some((f) => f.startsWith("dist/test") || f.startsWith("dist/bench") || f.startsWith("src/")), "only the built src/ is shipped");
    return { tgz: join(dir, result.filename), stderr: pack.stderr };
  })());
}
async function packed(): Promise<string> {
  return (await packOnce()).tgz;
}

/** Unpacks the tarball into `pkg` as npm would, and links its dependencies from this checkout (same lock file). */
async function unpackWithDeps(tgz: string, pkg: string, depsDir: string): Promise<void> {
  await mkdir(pkg, { recursive: true });
  const untar = await run("tar", ["-xzf", tgz, "-C", pkg, "--strip-components=1"], pkg);
  assert.equal(untar.code, 0, untar.stderr);
  await mkdir(depsDir, { recursive: true });
  const deps = Object.keys((JSON.parse(await readFile(join(pkg, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies);
  for (const d of deps) await symlink(join(ROOT, "node_modules", d), join(depsDir, d));
}

before(() => packOnce());
after(() => (packDir ? rm(packDir, { recursive: true, force: true }) : undefined));

test("the README's library example runs from an installed tarball against the emulator, and TypeScript sees the types", { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, "compliant-library-");
  const tgz = await packed();
  // 2. Install it into an empty folder.
  const app = join(dir, "app");
  await mkdir(app);
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "library-user", private: true, type: "module" }));
  const install = await run("npm", ["install", "--offline", "--no-audit", "--no-fund", tgz], app, {}, 30_000);
  if (install.code !== 0) {
    t.diagnostic(`npm install --offline failed (${install.stderr.split("\n").find((l) => l.includes("ENOTCACHED") || l.includes("error")) ?? install.code}); unpacking the tarball and linking its dependencies instead`);
    await unpackWithDeps(tgz, join(app, "node_modules", "compliant"), join(app, "node_modules"));
  }
  await symlink(join(ROOT, "node_modules", "@types"), join(app, "node_modules", "@types")).catch(() => undefined);

  // 3. The README example, from that folder, against the emulator.
  const emu = await startEmulator({ pollsToComplete: 1 });
  t.after(() => emu.close());
  await writeFile(join(app, "tweet-ids.txt"), ids(200, 1_460_000_000_000_000_000n));
  await writeFile(join(app, "user-ids.txt"), ids(50, 2_244_994_945n));
  await writeFile(join(app, "example.mjs"), await readmeExample());
  const env = { X_API_BASE_URL: emu.apiUrl, X_BEARER_TOKEN: emu.token, POLL_SECONDS: "0.05" };
  const ex = await node(["example.mjs"], app, env);
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stderr, "", "the library prints nothing unless asked");
  const [summaryLine, downloadLine, listLine] = ex.stdout.trim().split("\n");
  const summary = JSON.parse(summaryLine!) as { jobs: Array<{ id: string }>; results_file: string; ids_checked: number };
  const download = JSON.parse(downloadLine!) as { id: string; events: number; bytes: number };
  assert.equal(summary.ids_checked, 200);
  assert.ok((await readFile(join(app, "tweet-results.ndjson"))).length > 0);
  assert.equal((await readFile(join(app, "user-results.ndjson"))).length, download.bytes);
  assert.deepEqual(JSON.parse(listLine!), [download.id]);

  // runAll resolves to what `compliant all --json` prints (the same IDs, so the same counts).
  const cli = await runCli(["all", "--type", "tweets", "-i", "tweet-ids.txt", "-o", "tweet-results.ndjson", "--force", "--interval", "0.05", "--json"], {
    cwd: app,
    env: { X_API_BASE_URL: emu.apiUrl, X_BEARER_TOKEN: emu.token },
  });
  assert.equal(cli.code, 0, cli.stderr);
  const printed = JSON.parse(cli.stdout) as typeof summary;
  const withoutIds = (s: typeof summary) => ({ ...s, jobs: s.jobs.map((j) => ({ ...j, id: "" })) });
  assert.deepEqual(withoutIds(summary), withoutIds(printed));

  // Bad input: the CLI's exit code and message, and nothing created.
  const jobsBefore = emu.jobs().length;
  await writeFile(join(app, "bad-ids.txt"), "123\nnot-an-id\n");
  await writeFile(
    join(app, "bad.mjs"),
    `import { runAll, ComplianceClient, CliError } from "compliant";
     const out = [];
     for (const f of [
       () => runAll({ apiUrl: process.env.X_API_BASE_URL, token: process.env.X_BEARER_TOKEN, type: "tweets", idsFile: "bad-ids.txt", resultsFile: "bad.ndjson" }),
       () => runAll({ apiUrl: process.env.X_API_BASE_URL, token: process.env.X_BEARER_TOKEN, type: "posts", idsFile: "tweet-ids.txt", resultsFile: "bad.ndjson" }),
       async () => new ComplianceClient({ apiUrl: "http://example.com", token: "t" }),
       () => new ComplianceClient({ apiUrl: process.env.X_API_BASE_URL, token: process.env.X_BEARER_TOKEN }).getJob("12ab"),
     ]) {
       try { await f(); out.push("resolved"); } catch (e) { out.push({ cli: e instanceof CliError, code: e.exitCode, message: e.message }); }
     }
     console.log(JSON.stringify(out));`,
  );
  const bad = await node(["bad.mjs"], app, env);
  assert.equal(bad.code, 0, bad.stderr);
  const failures = JSON.parse(bad.stdout) as Array<{ cli: boolean; code: number; message: string }>;
  assert.deepEqual(failures.map((f) => [f.cli, f.code]), [[true, 2], [true, 2], [true, 2], [true, 2]]);
  assert.match(failures[0]!.message, /bad-ids\.txt.*line 2/);
  assert.match(failures[1]!.message, /type must be "tweets" or "users" \(got "posts"\)/);
  assert.match(failures[2]!.message, /plain http/);
  assert.match(failures[3]!.message, /a job id is 1–19 digits \(got "12ab"\)/);
  assert.equal(emu.jobs().length, jobsBefore, "no job was created for bad input");
  await assert.rejects(readFile(join(app, "bad.ndjson")), { code: "ENOENT" });

  // 4. TypeScript resolves "compliant" to the shipped declarations.
  await writeFile(
    join(app, "check.ts"),
    `import { ComplianceClient, runAll, CliError, ExitCode, type Job, type RunSummary } from "compliant";
const client = new ComplianceClient({ apiUrl: "http://127.0.0.1:9", token: "t" });
const job: Promise<Job> = client.createJob({ type: "tweets", name: "n" });
const summary: Promise<RunSummary> = runAll({ token: "t", type: "users", idsFile: "a", resultsFile: "b", intervalSeconds: 1 });
const checked: Promise<number> = summary.then((s) => s.ids_checked + s.ids_needing_action);
const code = (e: unknown): number => (e instanceof CliError ? e.exitCode : ExitCode.internal);
// @ts-expect-error only "tweets" and "users" are job types
void client.createJob({ type: "posts" });
// @ts-expect-error runAll needs an ID file
void runAll({ token: "t", type: "users", resultsFile: "b" });
void job; void checked; void code;
`,
  );
  await writeFile(
    join(app, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, types: ["node"], skipLibCheck: true }, files: ["check.ts"] }),
  );
  const tsc = await node([TSC, "-p", "tsconfig.json"], app);
  assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
});

test("a globally installed compliant shows --help from any folder, and its emulator examples run with no examples/ folder beside them", { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, "compliant-global-");
  const { tgz, stderr: packStderr } = await packOnce();
  assert.doesNotMatch(packStderr, /npm warn/i, "npm pack warns about nothing");
  const prefix = join(dir, "global");
  const install = await run("npm", ["install", "-g", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", tgz], dir, {}, 30_000);
  if (install.code === 0) {
    assert.doesNotMatch(install.stderr, /npm warn/i, "npm install -g warns about nothing");
  } else {
    // What `npm install -g` lays out: lib/node_modules/compliant with its dependencies, and bin/compliant linking to its bin.
    t.diagnostic("npm install -g --offline cannot fetch the dependencies here; laying the package out as npm install -g does");
    const pkg = join(prefix, "lib", "node_modules", "compliant");
    await unpackWithDeps(tgz, pkg, join(pkg, "node_modules"));
    await mkdir(join(prefix, "bin"), { recursive: true });
    await chmod(join(pkg, "bin", "compliant.js"), 0o755);
    await symlink(join("..", "lib", "node_modules", "compliant", "bin", "compliant.js"), join(prefix, "bin", "compliant"));
  }
  // An unrelated folder, with only the global bin and node on PATH.
  const elsewhere = join(dir, "elsewhere");
  await mkdir(elsewhere);
  const PATH = [join(prefix, "bin"), dirname(process.execPath), "/usr/bin", "/bin"].join(":");
  const help = await run("compliant", ["--help"], elsewhere, { PATH });
  assert.equal(help.code, 0, help.stderr);
  const allHelp = await run("compliant", ["all", "--help"], elsewhere, { PATH });
  assert.equal(allHelp.code, 0, allHelp.stderr);
  const text = help.stdout + allHelp.stdout;
  assert.doesNotMatch(text, /examples\//, "no example needs the clone's examples/ folder");
  const runnable = text.split("\n").map((l) => l.trim()).filter((l) => l.includes("compliant all --emulator"));
  assert.equal(runnable.length, 2, text);
  for (const line of runnable) {
    const r = await run("sh", ["-c", `set -e; ${line}`], elsewhere, { PATH });
    assert.equal(r.code, 0, `${line}\n${r.stderr}`);
  }
  const results = await readFile(join(elsewhere, "results.ndjson"), "utf8");
  // IDs 1000–1199: ID mod 100 < 10 needs action, so 20 result lines (the file also holds one
  // blank line, as the real delivery files do).
  assert.equal(results.split("\n").filter((l) => l.trim() !== "").length, 20);
});
