import { test } from "node:test";
import assert from "node:assert/strict";
import { ComplianceApi } from "../../src/api/client.js";
import { TimeoutError } from "../../src/errors.js";
import { waitForJob } from "../../src/jobs/poll.js";
import { emulatorFor } from "../helpers/cli.js";
import { createJob, putIds } from "../emulator/helpers.js";

async function apiFor(t: import("node:test").TestContext, opts: Parameters<typeof emulatorFor>[1] = {}) {
  const emu = await emulatorFor(t, { rateLimit: { limit: 1_000_000, windowSeconds: 900 }, ...opts });
  const api = new ComplianceApi(emu.apiUrl, { apiOrigin: emu.apiUrl, token: emu.token, userAgent: "compliant-test" });
  t.after(() => api.close());
  return { emu, api };
}

test("waits until complete, reporting status changes once", async (t) => {
  const { emu, api } = await apiFor(t, { pollsToComplete: 3 });
  const job = await createJob(emu);
  await putIds(job.upload_url, "1160404233650352001\n");
  const seen: string[] = [];
  const done = await waitForJob(api, job.id, { intervalMs: 10, onPoll: (j, changed) => changed && seen.push(j.status) });
  assert.equal(done.status, "complete");
  assert.deepEqual(seen, ["in_progress", "complete"]);
  assert.equal(emu.jobs()[0]!.getPolls, 3);
});

test("a timeout names the job, the timeout as given (not rounded to 0) and the resume hint", async (t) => {
  const { emu, api } = await apiFor(t, { pollsToComplete: 1_000_000 });
  const job = await createJob(emu);
  await putIds(job.upload_url, "1160404233650352001\n");
  await assert.rejects(
    waitForJob(api, job.id, { intervalMs: 10, timeoutMs: 50, timeoutLabelMs: 300, resumeHint: "compliant all … (the same command)" }),
    (e: unknown) =>
      e instanceof TimeoutError &&
      e.exitCode === 7 &&
      e.message === `job ${job.id} is still in_progress after the 0.3 s timeout; run \`compliant all … (the same command)\` to keep waiting.`,
  );
  await assert.rejects(waitForJob(api, job.id, { intervalMs: 10, timeoutMs: 40 }), /after the 0 s timeout; run `compliant status \d+ --wait`/);
});

test("the interval stretches to the rate-limit budget, so polls never meet a 429", async (t) => {
  const { emu, api } = await apiFor(t, { pollsToComplete: 5, rateLimit: { limit: 4, windowSeconds: 1 } });
  const job = await createJob(emu);
  await putIds(job.upload_url, "1160404233650352001\n");
  const slowed: number[] = [];
  const done = await waitForJob(api, job.id, { intervalMs: 1, onSlowDown: (ms) => slowed.push(ms) });
  assert.equal(done.status, "complete");
  const gets = emu.requests.filter((r) => r.route === "get");
  assert.equal(gets.length, 5);
  assert.deepEqual(gets.filter((g) => g.status !== 200), []);
  assert.ok(slowed.length > 0);
});
