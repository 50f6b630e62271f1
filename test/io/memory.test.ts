import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runInNewContext } from "node:vm";
import { collectorAvailable, TransferPacer } from "../../src/runtime.js";

describe("TransferPacer", () => {
  it("can start a collection on this Node (else long transfers grow peak RSS again), and exposes gc nowhere", () => {
    assert.equal(collectorAvailable(), true);
    // The run-time --expose-gc is switched off again once gc is taken: new contexts have none.
    assert.equal(runInNewContext("typeof gc"), "undefined");
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, "undefined");
  });

  it("starts one collection per `every` bytes transferred, whatever the chunk sizes", () => {
    let collections = 0;
    const pacer = new TransferPacer(10, () => collections++);
    pacer.add(4);
    pacer.add(4);
    assert.equal(collections, 0);
    pacer.add(4); // 12 ≥ 10
    assert.equal(collections, 1);
    pacer.add(9);
    assert.equal(collections, 1);
    pacer.add(35); // one big chunk: one collection, the count starts again
    assert.equal(collections, 2);
    pacer.add(10);
    assert.equal(collections, 3);
  });
});
