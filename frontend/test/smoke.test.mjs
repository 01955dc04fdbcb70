import { test } from "node:test";
import assert from "node:assert/strict";
import { decode } from "cborg";

test("cborg decodes strictly", () => {
  assert.deepEqual(decode(new Uint8Array([0x82, 0x01, 0x02])), [1, 2]);
});
