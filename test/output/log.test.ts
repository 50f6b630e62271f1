import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { createLog } from "../../src/output/log.js";

/** A stderr that claims to be a terminal (what ora needs to draw a spinner). */
function fakeTty(): NodeJS.WritableStream {
  const out = new PassThrough();
  out.resume();
  const tty = { isTTY: true, columns: 80, cursorTo: () => true, moveCursor: () => true, clearLine: () => true };
  return Object.assign(out, tty);
}

describe("Log.progress with lazy text", () => {
  it("on a TTY: a text throttled away is shown later, never lost; a milestone lets the next one through", async () => {
    const stderr = fakeTty();
    const log = createLog({ policy: { fancy: true, quiet: false, verbose: false }, stderr });
    const built: string[] = [];
    const text = (s: string) => () => (built.push(s), s);
    try {
      log.progress(text("upload 10%"));
      log.progress(text("upload 99%")); // within 50 ms: deferred
      log.progress(text("upload 100%")); // supersedes 99 %
      assert.deepEqual(built, ["upload 10%"]);
      await sleep(80);
      assert.deepEqual(built, ["upload 10%", "upload 100%"], "the last text is built when its time comes");
      log.info("uploaded");
      log.progress(text("part 2: 0%"));
      assert.deepEqual(built.at(-1), "part 2: 0%", "not throttled right after a milestone");
    } finally {
      log.done(); // stops the spinner, whose timer would keep the test process alive
    }
  });

  it("off a TTY: the text is built only when a line is printed (at the heartbeat)", () => {
    const stderr = new PassThrough();
    let t = 0;
    const log = createLog({ policy: { fancy: false, quiet: false, verbose: false }, stderr, heartbeatMs: 1000, now: () => t });
    let calls = 0;
    const text = () => (calls++, "downloading: 5 MB");
    t = 5000;
    log.progress(text);
    t = 5500;
    log.progress(text);
    log.progress(text);
    assert.equal(calls, 1);
    t = 6100;
    log.progress(text);
    assert.equal(calls, 2);
  });
});
