import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

// The layers of src/, lowest first: a module may import only from a lower layer or from its own
// folder (README, "Layout"). Checked on the TypeScript sources, type-only imports included.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const SRC = join(ROOT, "src");

/** Layer of a module, by its path under src/ (most specific entry first). */
const LAYERS: Array<[prefix: string, rank: number]> = [
  // Leaves every layer may use.
  ["errors.ts", 0],
  ["version.ts", 0],
  ["runtime.ts", 0],
  ["output/escape.ts", 0],
  ["config.ts", 0.5],
  // Files and lines; then HTTP (which may read io's checksums and schemas).
  ["io/", 1],
  ["api/", 2],
  // Archives, and what is shown to people.
  ["dataset/", 3],
  ["output/", 3],
  // The emulator is a program of its own; the Context starts it for --emulator.
  ["emulator/", 4],
  ["context.ts", 5],
  // The job workflow, then the commands, then the two entry points.
  ["jobs/", 6],
  ["commands/", 7],
  ["cli.ts", 8],
  ["index.ts", 8],
];

function layerOf(path: string): { rank: number; folder: string } {
  const found = LAYERS.find(([prefix]) => (prefix.endsWith("/") ? path.startsWith(prefix) : path === prefix));
  assert.ok(found, `src/${path} is in no layer: add it to LAYERS in this test and to README's Layout`);
  return { rank: found[1], folder: path.includes("/") ? path.slice(0, path.indexOf("/") + 1) : path };
}

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (entry.name.endsWith(".ts")) out.push(full);
  }
  return out;
}

/** Every relative module a source names: `import … from`, `export … from`, and `import("…")`. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*"(\.[^"]+)"|\bimport\(\s*"(\.[^"]+)"\s*\)/g)) found.push((m[1] ?? m[2])!);
  return found;
}

/** The import rules broken in src/, as "from → to: why" lines. */
async function violations(): Promise<string[]> {
  const bad: string[] = [];
  for (const file of await sources(SRC)) {
    const from = relative(SRC, file).split("\\").join("/");
    const a = layerOf(from);
    for (const spec of importsOf(await readFile(file, "utf8"))) {
      const to = relative(SRC, resolve(dirname(file), spec)).split("\\").join("/").replace(/\.js$/, ".ts");
      const b = layerOf(to);
      if (a.folder.endsWith("/") && a.folder === b.folder) {
        if (a.folder === "commands/" && to !== "commands/options.ts") bad.push(`${from} → ${to}: a command never imports another command`);
        continue;
      }
      if (b.rank >= a.rank) bad.push(`${from} → ${to}: imports a layer that is not below it`);
      if (a.folder === "commands/" && b.folder === "api/") bad.push(`${from} → ${to}: commands reach the API through jobs/`);
    }
  }
  return bad;
}

test("no module in src/ imports a layer above its own, and no command imports another", async () => {
  assert.deepEqual(await violations(), []);
});

test("the layer check sees imports of every form", () => {
  const text = `import { a } from "./a.js";\nimport type { B } from "../b.js";\nexport { c } from "./c.js";\nconst d = await import("./d.js");\nimport x from "zod";\n`;
  assert.deepEqual(importsOf(text), ["./a.js", "../b.js", "./c.js", "./d.js"]);
});
