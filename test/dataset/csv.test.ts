import assert from "node:assert/strict";
import { test } from "node:test";
import { CsvApplier } from "../../src/dataset/csv-applier.js";
import { CsvScanner, fieldText } from "../../src/dataset/csv-scan.js";
import { EventIndex, Kind } from "../../src/dataset/event-index.js";
import { sniffFormat } from "../../src/dataset/format.js";

const SAMPLE = 'id,text,geo.place_id\r\n1,"a, ""b""\r\nc",p1\r\n2,plain,\r\n\r\n3,"",p3\n4,"x""",p4';

function scanAll(input: Buffer, cut: (i: number) => boolean): Array<{ fields: string[]; raw: string; lineNo: number; unclosed: boolean }> {
  const out: Array<{ fields: string[]; raw: string; lineNo: number; unclosed: boolean }> = [];
  const s = new CsvScanner((r) =>
    out.push({ fields: r.starts.map((st, i) => fieldText(r.buf, st, r.ends[i]!)), raw: r.buf.toString("latin1", r.start, r.end), lineNo: r.lineNo, unclosed: r.unclosed }),
  );
  let from = 0;
  for (let i = 1; i <= input.length; i++) {
    if (i === input.length || cut(i)) {
      s.push(input.subarray(from, i));
      from = i;
    }
  }
  s.end();
  return out;
}

test("CsvScanner: fields, quotes, embedded CRLF, blank records and a last line without a newline, whatever the chunk cuts", () => {
  const input = Buffer.from(SAMPLE);
  const whole = scanAll(input, () => false);
  assert.deepEqual(
    whole.map((r) => r.fields),
    [["id", "text", "geo.place_id"], ["1", 'a, "b"\r\nc', "p1"], ["2", "plain", ""], [""], ["3", "", "p3"], ["4", 'x"', "p4"]],
  );
  assert.deepEqual(whole.map((r) => r.lineNo), [1, 2, 4, 5, 6, 7]);
  assert.equal(whole.map((r) => r.raw).join(""), SAMPLE, "the records' spans cover the input exactly");
  for (let cut = 1; cut < input.length; cut++) assert.deepEqual(scanAll(input, (i) => i === cut), whole, `cut at ${cut}`);
  assert.deepEqual(scanAll(input, () => true), whole, "one byte at a time");
  const unclosed = scanAll(Buffer.from('id,t\n1,"never closed\n2,x\n'), () => false);
  assert.equal(unclosed.length, 2);
  assert.equal(unclosed[1]!.unclosed, true);
});

test("CsvApplier: kept rows are their bytes, a scrub empties only the geo fields, fed in any chunks", () => {
  const index = new EventIndex();
  index.add("2", Kind.scrub);
  index.add("3", Kind.delete);
  const input = Buffer.from(SAMPLE);
  const run = (step: number) => {
    const a = new CsvApplier("tweets", index, true, {}, "t.csv");
    const out: Buffer[] = [];
    const removed: Buffer[] = [];
    for (let i = 0; i < input.length; i += step) {
      a.push(input.subarray(i, i + step));
      const t = a.take();
      out.push(...t.out);
      removed.push(...t.removed);
    }
    a.end();
    const t = a.take();
    out.push(...t.out);
    removed.push(...t.removed);
    return { out: Buffer.concat(out).toString("latin1"), removed: Buffer.concat(removed).toString("latin1"), counts: a.counts };
  };
  const expected = 'id,text,geo.place_id\r\n1,"a, ""b""\r\nc",p1\r\n2,plain,\r\n\r\n4,"x""",p4';
  for (const step of [1, 2, 3, 7, 1000]) {
    const r = run(step);
    assert.equal(r.out, expected, `step ${step}`);
    assert.equal(r.removed, 'id,text,geo.place_id\r\n3,"",p3\n');
    assert.equal(r.counts.removedRecords, 1);
    assert.equal(r.counts.scrubbedRecords, 1);
    assert.equal(r.counts.blankLines, 1);
  }
  const scrubbed = new EventIndex();
  scrubbed.add("1", Kind.scrub);
  const a = new CsvApplier("tweets", scrubbed, false, {}, "t.csv");
  a.push(input);
  a.end();
  assert.equal(Buffer.concat(a.take().out).toString("latin1"), SAMPLE.replace(',p1\r\n', ',\r\n'));
});

test("sniffFormat: a .csv name, or a header with an ID column; JSON, ID lists and other text stay JSON Lines", () => {
  assert.equal(sniffFormat(Buffer.from("{}\n"), "a.csv", undefined), "csv");
  assert.equal(sniffFormat(Buffer.from("{}\n"), "a.CSV.gz", undefined), "csv");
  assert.equal(sniffFormat(Buffer.from('"user_id","status_id","text"\n'), undefined, undefined), "csv");
  assert.equal(sniffFormat(Buffer.from("\ufeffid,text\r\n"), undefined, undefined), "csv");
  assert.equal(sniffFormat(Buffer.from("tweet,text\n"), undefined, undefined), "jsonl");
  assert.equal(sniffFormat(Buffer.from("tweet,text\n"), undefined, undefined, { idColumn: "tweet" }), "csv");
  assert.equal(sniffFormat(Buffer.from('{"id":"1"}\n'), "a.jsonl", undefined), "jsonl");
  assert.equal(sniffFormat(Buffer.from("123\n"), undefined, undefined), "jsonl");
  assert.equal(sniffFormat(Buffer.from("id,text\n"), "a.csv", "jsonl"), "jsonl");
});
