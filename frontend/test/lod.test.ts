import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { MIN_MOVING, MovingDetail, permuted, shuffled } from "../src/fast3d/lod";

test("shuffled: a permutation whose first points are a spread-out sample", () => {
  const n = 100000;
  const order = shuffled(n);
  const seen = new Uint8Array(n);
  for (const i of order) seen[i]++;
  assert.ok(seen.every((c) => c === 1));
  let sum = 0;
  for (let k = 0; k < 20000; k++) sum += order[k];
  assert.ok(Math.abs(sum / 20000 - n / 2) < n * 0.01, String(sum / 20000)); // not the first points in order
  const tenths = new Array(10).fill(0);
  for (let k = 0; k < 20000; k++) tenths[Math.floor(order[k] / (n / 10))]++;
  assert.ok(tenths.every((c) => Math.abs(c - 2000) < 250), String(tenths)); // every part of the cloud alike
});

test("permuted: each point's triple moves with it (positions and colours alike)", () => {
  const order = Uint32Array.from([2, 0, 1]);
  assert.deepEqual(Array.from(permuted(Float32Array.from([0, 1, 2, 10, 11, 12, 20, 21, 22]), order)), [20, 21, 22, 0, 1, 2, 10, 11, 12]);
  const out = new Uint8Array(9);
  assert.equal(permuted(Uint8Array.from([1, 1, 1, 2, 2, 2, 3, 3, 3]), order, out), out);
  assert.deepEqual(Array.from(out), [3, 3, 3, 1, 1, 1, 2, 2, 2]);
});

test("MovingDetail: fewer points while slow moves come, all of them at rest", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  let now = 1000;
  const real = performance.now;
  performance.now = () => now;
  try {
    let redraws = 0;
    const lod = new MovingDetail(() => redraws++);
    const n = 100000;
    const move = (dt: number) => {
      now += dt;
      lod.moved(n);
      mock.timers.tick(dt);
    };
    for (let i = 0; i < 3; i++) move(50); // 20 frames/s: fewer
    assert.ok(lod.count(n) < n && lod.count(n) >= MIN_MOVING, String(lod.count(n)));
    for (let i = 0; i < 30; i++) move(50);
    assert.equal(lod.count(n), MIN_MOVING); // never fewer than MIN_MOVING
    for (let i = 0; i < 40; i++) move(10); // fast again: back to every point
    assert.equal(lod.count(n), n);
    for (let i = 0; i < 5; i++) move(50);
    assert.ok(lod.count(n) < n);
    mock.timers.tick(200); // the camera stopped: every point, and a frame to show them
    assert.equal(lod.count(n), n);
    assert.equal(redraws, 1);
    lod.moved(MIN_MOVING); // a small cloud: never reduced
    move(80);
    assert.equal(lod.count(MIN_MOVING), MIN_MOVING);
    lod.destroy();
  } finally {
    performance.now = real;
    mock.timers.reset();
  }
});
