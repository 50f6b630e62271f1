import assert from "node:assert/strict";
import { test } from "node:test";
import { DatasetApplier } from "../../src/dataset/applier.js";
import { EventIndex, Kind } from "../../src/dataset/event-index.js";
import { Found, scanQuotedIds } from "../../src/dataset/json-scan.js";

// apply's fast path copies a line untouched when no quoted digit string in it has an event. An
// ID found only in an embedded copy must still get the line parsed.

const RETWEET = '{"id_str":"11","text":"RT","user":{"id_str":"300"},"retweeted_status":{"id_str":"22","text":"gone","user":{"id_str":"201"}}}';
const QUOTE = '{"id_str":"12","text":"quote","user":{"id_str":"300"},"quoted_status":{"id_str":"22","text":"gone"},"quoted_status_id_str":"22"}';
const REPLY = '{"id_str":"13","text":"reply","in_reply_to_status_id_str":"22","user":{"id_str":"300"}}';
const OTHER = '{"id_str":"14","text":"fine","user":{"id_str":"300"}}';

function applyLines(lines: string[], events: Array<[string, number]>, type: "tweets" | "users" = "tweets") {
  const index = new EventIndex();
  for (const [id, kind] of events) index.add(id, kind as Parameters<EventIndex["add"]>[1]);
  const a = new DatasetApplier(type, index, false);
  a.push(Buffer.from(lines.join("\n") + "\n"));
  a.end();
  return { out: Buffer.concat(a.take().out).toString(), counts: a.counts };
}

test("json-scan sees an event ID that is only in a nested copy", () => {
  const index = new EventIndex();
  index.add("22", Kind.delete);
  const buf = Buffer.from(RETWEET);
  assert.equal(scanQuotedIds(buf, 0, buf.length, index), Found.event);
  const other = Buffer.from(OTHER);
  assert.equal(scanQuotedIds(other, 0, other.length, index), Found.idKey);
});

test("the applier parses a line whose only event is in a copy, and copies unaffected lines byte for byte", () => {
  const { out, counts } = applyLines([RETWEET, QUOTE, REPLY, OTHER], [["22", Kind.delete]]);
  assert.equal(out, '{"id_str":"12","text":"quote","user":{"id_str":"300"},"quoted_status_id_str":"22"}\n' + REPLY + "\n" + OTHER + "\n");
  assert.equal(counts.parsedLines, 3); // the retweet, the quote, and the reply (a false alarm, kept)
  assert.equal(counts.droppedLines, 1);
  assert.equal(counts.unchangedLines, 2);
});

test("an event on the record's own ID does not hide a deleted copy in it", () => {
  // Before: a rehydrate or unknown action on the own ID kept the line without a look inside.
  for (const kind of [Kind.rehydrate, Kind.other]) {
    const { out, counts } = applyLines([RETWEET, OTHER], [["11", kind], ["22", Kind.delete]]);
    assert.equal(out, OTHER + "\n");
    assert.equal(counts.droppedLines, 1);
  }
  // --type users: the retweeted Post's author.
  const { out } = applyLines([RETWEET, OTHER], [["201", Kind.delete]], "users");
  assert.equal(out, OTHER + "\n");
});

test("the own ID repeated elsewhere (conversation_id) does not make the line parsed", () => {
  const line = '{"id":"15","text":"root","author_id":"300","conversation_id":"15"}';
  const { out, counts } = applyLines([line], [["15", Kind.rehydrate]]);
  assert.equal(out, line + "\n");
  assert.equal(counts.parsedLines, 0);
  assert.equal(counts.rehydrateRecords, 1);
});

test("a bare retweeted reference with a delete event gets the line parsed and dropped; bare quotes and replies are kept as they are", () => {
  const rt = '{"id":"16","text":"RT","author_id":"300","referenced_tweets":[{"type":"retweeted","id":"22"}]}';
  const quote = '{"id":"17","text":"quote","author_id":"300","referenced_tweets":[{"type":"quoted","id":"22"}]}';
  const reply = '{"id":"18","text":"reply","author_id":"300","referenced_tweets":[{"type":"replied_to","id":"22"}]}';
  const { out, counts } = applyLines([rt, quote, reply, OTHER], [["22", Kind.delete]]);
  assert.equal(out, quote + "\n" + reply + "\n" + OTHER + "\n");
  assert.equal(counts.parsedLines, 3);
  assert.equal(counts.droppedLines, 1);
  // An event on the retweet's own ID that would keep it does not hide the reference.
  for (const kind of [Kind.rehydrate, Kind.other]) assert.equal(applyLines([rt, OTHER], [["16", kind], ["22", Kind.delete]]).out, OTHER + "\n");
  // --type users: a bare reference names no author.
  assert.equal(applyLines([rt], [["22", Kind.delete]], "users").out, rt + "\n");
});
