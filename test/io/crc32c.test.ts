import { test } from "node:test";
import assert from "node:assert/strict";
import { Crc32c, googCrc32c } from "../../src/io/crc32c.js";

test("crc32c matches the standard check value and does not depend on how the bytes are split", () => {
  assert.equal(new Crc32c().update(Buffer.from("123456789")).value(), 0xe3069283);
  assert.equal(new Crc32c().update(Buffer.alloc(32, 0)).value(), 0x8a9136aa);
  assert.equal(new Crc32c().update(Buffer.alloc(32, 0xff)).value(), 0x62a8ab43);
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff));
  const whole = new Crc32c().update(data).value();
  for (const step of [1, 3, 7, 8, 9, 64, 999]) {
    const c = new Crc32c();
    for (let i = 0; i < data.length; i += step) c.update(data.subarray(i, i + step));
    assert.equal(c.value(), whole, `step ${step}`);
  }
  assert.equal(new Crc32c().update(Buffer.from("123456789")).base64(), Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString("base64"));
});

test("the crc32c value is found in x-goog-hash however the header is listed", () => {
  assert.equal(googCrc32c("crc32c=4waSgw==,md5=AAAAAAAAAAAAAAAAAAAAAA=="), "4waSgw==");
  assert.equal(googCrc32c(["md5=AAAAAAAAAAAAAAAAAAAAAA==", "crc32c=4waSgw=="]), "4waSgw==");
  assert.equal(googCrc32c("md5=AAAAAAAAAAAAAAAAAAAAAA=="), undefined);
  assert.equal(googCrc32c(undefined), undefined);
});
