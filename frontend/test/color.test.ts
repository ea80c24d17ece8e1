import assert from "node:assert/strict";
import { test } from "node:test";
import { color, PALETTE } from "../src/views/common";

test("custom colours: colours only, never something CSS would fetch", () => {
  for (const c of ["#abc", "#a1b2c3", "#a1b2c3d4", "red", "RebeccaPurple", "rgb(1, 2, 3)", "rgba(1,2,3,0.5)", "hsl(120, 50%, 50%)"]) {
    assert.equal(color(0, { colors: [c] }), c, c);
  }
  for (const c of ["url(x)", "url(http://127.0.0.2:9/y)", "red;background:url(x)", "image-set(x 1x)", "#12", "var(--bad)", "rgb(1,2,3) url(x)", "", 5]) {
    assert.equal(color(0, { colors: [c] }), PALETTE[0], String(c));
  }
  assert.equal(color(11), PALETTE[1]);
});
