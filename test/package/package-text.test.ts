import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { test } from "node:test";
import { ROOT } from "../helpers/cli.js";

// Pointers a user of the package or a clone cannot follow: the project's private reference notes
// and its issue tracker. (Built from pieces so this file does not match itself.)
const UNSEEABLE = new RegExp(["shared/" + "reference", "API-" + "FACTS", "\\bissues? " + "#?\\d", "\\.\\./" + "shared"].join("|"), "i");

async function files(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "fixtures" && e.name !== "node_modules") await files(p, out);
    } else if (/\.(ts|mjs|js|md)$/.test(e.name)) out.push(p);
  }
  return out;
}

test("no comment or README line points at files a user cannot see (private reference notes, issue numbers)", async () => {
  const all = [join(ROOT, "README.md"), join(ROOT, ".env.example"), join(ROOT, "bin", "compliant.js")];
  for (const d of ["src", "test", "bench"]) await files(join(ROOT, d), all);
  const hits: string[] = [];
  for (const f of all) {
    const lines = (await readFile(f, "utf8")).split("\n");
    lines.forEach((line, i) => {
      if (UNSEEABLE.test(line)) hits.push(`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(hits, []);
});
