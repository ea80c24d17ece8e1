import assert from "node:assert/strict";
import { test } from "node:test";
import { exportName } from "../src/finding";

test("PNG and CSV downloads share the server's naming: env-win, / made _", () => {
  assert.equal(exportName(["exp"], "loss", "png"), "exp-loss.png");
  assert.equal(exportName(["runs/a"], "loss/train", "csv"), "runs_a-loss_train.csv");
  assert.equal(exportName(["a", "b"], "loss", "png"), "a+b-loss.png");
  assert.equal(exportName([], "loss", "png"), "loss.png");
});