import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DatasetApplier } from "../../src/dataset/applier.js";
import { classifyEvent, EventIndex } from "../../src/dataset/event-index.js";
import { ArrayApplier } from "../../src/dataset/json-array.js";
import { FIXTURES } from "../helpers/fake-context.js";

// A JSON array of records and the same records as JSON Lines are the same dataset: apply must
// decide each record alike (the array path once kept an element whose own ID had no event
// without looking at the copies inside it).

const NESTED = join(FIXTURES, "nested");

function indexOf(type: "tweets" | "users"): EventIndex {
  const index = new EventIndex();
  for (const line of readFileSync(join(NESTED, `results-${type}.ndjson`), "utf8").split("\n")) {
    if (!line) continue;
    const e = JSON.parse(line) as { id: string; action: string; reason?: string };
    index.add(e.id, classifyEvent(e.action, e.reason));
  }
  return index;
}

for (const file of ["v11.jsonl", "flat.jsonl", "pages.jsonl", "v2-bare.jsonl", "pages-bare.jsonl"]) {
  for (const type of ["tweets", "users"] as const) {
    test(`${file} --type ${type}: the array applier keeps, rewrites and drops the same records as the JSON Lines applier`, () => {
      const records = readFileSync(join(NESTED, file), "utf8").split("\n").filter(Boolean);
      const index = indexOf(type);
      const lines = new DatasetApplier(type, index, true);
      lines.push(Buffer.from(records.join("\n") + "\n"));
      lines.end();
      const fromLines = lines.take();
      const array = new ArrayApplier(type, index, true, file);
      array.push(Buffer.from("[\n" + records.join(",\n") + "\n]\n"));
      array.end();
      const fromArray = array.take();
      const kept = Buffer.concat(fromLines.out).toString().split("\n").filter(Boolean);
      assert.equal(Buffer.concat(fromArray.out).toString(), kept.length ? "[\n" + kept.join(",\n") + "\n]\n" : "[]\n");
      assert.equal(Buffer.concat(fromArray.removed).toString(), Buffer.concat(fromLines.removed).toString());
      for (const k of ["removedRecords", "scrubbedRecords", "untouchedRecords", "rehydrateRecords", "unchangedLines", "rewrittenLines", "droppedLines"] as const) {
        assert.equal(array.counts[k], lines.counts[k], k);
      }
    });
  }
}
