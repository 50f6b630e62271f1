// Mistakes found in a new-user pass: each is a usage error (exit 2) with one sentence, not a bug report.

import assert from "node:assert/strict";
import { createServer } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runCli, tempDir } from "../helpers/cli.js";

test("report on a file that is not a results file exits 2 and says what to pass", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "ids.txt"), "1532967361014279743\n");
  const r = await runCli(["report", "ids.txt"], { cwd: dir });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    'compliant: ids.txt does not look like a compliance results file: line 1 is not a valid compliance event (Invalid input): "1532967361014279743"; pass the NDJSON file written by `compliant download` or `compliant all`.\n',
  );
});

test("emulator on a port in use, or not a port, exits 2", async (t) => {
  const dir = await tempDir(t);
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
  t.after(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const inUse = await runCli(["emulator", "--port", String(port)], { cwd: dir });
  assert.equal(inUse.code, 2);
  assert.equal(inUse.stderr, `compliant: cannot listen on port ${port} (it is in use); choose another --port, or leave it out for a free one.\n`);
  const bad = await runCli(["emulator", "--port", "99999"], { cwd: dir });
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "compliant: --port 99999 is not a TCP port; choose one from 1 to 65535, or leave it out for a free one.\n");
});
