// The emulator must settle every request it started, also when the client vanishes before the
// answer begins; otherwise `close()` waits for ever (a test run then ends with "Promise
// resolution is still pending but the event loop has already resolved").

import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { startEmulator } from "../../src/emulator/server.js";
import { createJob, getJob, putIds, sampleIds } from "./helpers.js";

test("a download whose client disconnects right after asking still settles, so close() returns", async () => {
  const emu = await startEmulator({ pollsToComplete: 1 });
  let closed = false;
  try {
    const job = await createJob(emu, { type: "tweets" });
    assert.equal((await putIds(job.upload_url, `${sampleIds(50).join("\n")}\n`)).status, 200);
    assert.equal((await getJob(emu, job.id)).data.status, "complete");
    const url = new URL(job.download_url);
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          // Two requests in one write (HTTP pipelining): the second answer waits for the first
          // one's socket, and may never get it.
          const get = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`;
          socket.write(i % 2 === 0 ? get : get + get);
          // Gone before the answer: at once, or after a moment (the file is being opened).
          if (i % 6 === 0) socket.destroy();
          else setTimeout(() => socket.destroy(), (i * 7) % 6);
        });
        socket.on("close", () => resolve());
        socket.on("error", () => undefined);
      });
    }
    await sleep(20);
  } finally {
    const done = emu.close().then(() => (closed = true));
    // A bounded wait: a close that never settles is the failure, reported rather than hung.
    const timer = new AbortController();
    await Promise.race([done, sleep(10_000, undefined, { signal: timer.signal }).catch(() => undefined)]);
    timer.abort();
  }
  assert.ok(closed, "close() did not settle: a request handler is still pending after its client went away");
});
