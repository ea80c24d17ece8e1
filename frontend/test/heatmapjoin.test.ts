import assert from "node:assert/strict";
import { test } from "node:test";
import { joined, MAX_CELLS, type Matrix } from "../src/heatmapjoin";

function m(rows: number, cols: number, values: number[]): Matrix {
  return { rows, cols, data: Float64Array.from(values) };
}

test("rows and columns join at either end, as the server joins them", () => {
  const base = m(2, 2, [1, 2, 3, 4]);
  assert.deepEqual([...joined(base, m(1, 2, [5, 6]), "appendRow").data], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...joined(base, m(1, 2, [5, 6]), "prependRow").data], [5, 6, 1, 2, 3, 4]);
  const col = joined(base, m(2, 1, [7, 8]), "appendColumn");
  assert.deepEqual([col.rows, col.cols, ...col.data], [2, 3, 1, 2, 7, 3, 4, 8]);
  const pre = joined(base, m(2, 2, [5, 6, 7, 8]), "prependColumn");
  assert.deepEqual([pre.rows, pre.cols, ...pre.data], [2, 4, 5, 6, 1, 2, 7, 8, 3, 4]);
});

test("the first block makes the matrix; a replace or a misfit is the block itself", () => {
  const block = m(1, 3, [1, 2, 3]);
  assert.equal(joined(null, block, "appendRow"), block);
  assert.equal(joined(m(2, 2, [1, 2, 3, 4]), block, "appendRow"), block);
  assert.equal(joined(m(1, 3, [0, 0, 0]), block, "replace"), block);
});

test("past MAX_CELLS the far end is dropped", () => {
  const cols = 4;
  const full = m(MAX_CELLS / cols, cols, new Array(MAX_CELLS).fill(0));
  const after = joined(full, m(1, cols, [1, 1, 1, 1]), "appendRow");
  assert.equal(after.rows, MAX_CELLS / cols);
  assert.deepEqual([...after.data.slice(-4)], [1, 1, 1, 1]); // the newest row kept, the oldest dropped
  const before = joined(full, m(1, cols, [2, 2, 2, 2]), "prependRow");
  assert.deepEqual([...before.data.slice(0, 4)], [2, 2, 2, 2]);
});
