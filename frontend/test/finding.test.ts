import assert from "node:assert/strict";
import { test } from "node:test";
import { autoWidth, exportName, matcher, MAX_ZOOM, nextZoom, recentEnvs, RECENT_MAX, sectionOf, sections, zoomLabel } from "../src/finding";

test("windows group into sections by the prefix before the first /, in the order of their first window", () => {
  assert.equal(sectionOf("loss/train"), "loss");
  assert.equal(sectionOf("grad_norm/layer1/w"), "grad_norm");
  assert.equal(sectionOf("accuracy"), "");
  assert.equal(sectionOf("/odd"), "");
  assert.deepEqual(sections(["notes", "loss/train", "grad_norm/a", "loss/val", "acc", "grad_norm/b"]), [
    ["", ["notes", "acc"]],
    ["loss", ["loss/train", "loss/val"]],
    ["grad_norm", ["grad_norm/a", "grad_norm/b"]],
  ]);
  assert.deepEqual(sections([]), []);
  assert.deepEqual(sections(["a", "b"]), [["", ["a", "b"]]]);
});

test("the window search: a case-insensitive substring, or a /regex/", () => {
  const all = matcher("")!;
  assert.ok(all("anything"));
  const sub = matcher("Loss")!;
  assert.ok(sub("val_loss"));
  assert.ok(!sub("accuracy"));
  assert.ok(sub("acc", "Training loss"), "a title matches too");
  const rx = matcher("/^loss\\/(train|val)$/")!;
  assert.ok(rx("loss/train"));
  assert.ok(rx("LOSS/val"), "case-insensitive without flags");
  assert.ok(!rx("loss/test"));
  const cased = matcher("/^Loss/s")!;
  assert.ok(cased("Loss") && !cased("loss"), "flags given: as written");
  assert.equal(matcher("/(/"), null, "an invalid regex");
  assert.ok(matcher("a/b")!("a/b"), "a slash inside is a substring");
  assert.ok(matcher("/g/g")!("g") && matcher("/g/g")!("g"), "no stateful g flag");
});

test("the landing page opens the most recently updated env", () => {
  // without an `updated` time: the env with the most changes
  assert.deepEqual(recentEnvs([{ name: "a", seq: 3, windows: 1 }, { name: "z", seq: 40, windows: 2 }, { name: "m", seq: 7, windows: 1 }]), ["z"]);
  assert.deepEqual(recentEnvs([{ name: "b", seq: 5, windows: 1 }, { name: "a", seq: 5, windows: 1 }]), ["a"], "ties by name");
  assert.deepEqual(recentEnvs([]), []);
  // with one: the newest, and its group's envs updated close to it
  const t = 1_700_000_000;
  const envs = [
    { name: "old", seq: 900, windows: 1, updated: t - 3600 },
    { name: "sweep/lr1", seq: 10, windows: 1, updated: t },
    { name: "sweep/lr2", seq: 12, windows: 1, updated: t - 30 },
    { name: "sweep/lr3", seq: 12, windows: 1, updated: t - 3600 },
    { name: "other", seq: 1, windows: 1, updated: t - 10 },
  ];
  assert.deepEqual(recentEnvs(envs), ["sweep/lr1", "sweep/lr2"]);
  assert.deepEqual(recentEnvs([{ name: "x", seq: 1, windows: 1, updated: t }, { name: "y", seq: 99, windows: 1, updated: t - 1 }]), ["x"], "no group: the newest alone");
  const many = Array.from({ length: 10 }, (_, i) => ({ name: `g/r${i}`, seq: 1, windows: 1, updated: t - i }));
  assert.equal(recentEnvs(many).length, RECENT_MAX);
});

test("PNG and CSV downloads share the server's naming: env-win, / made _", () => {
  assert.equal(exportName(["exp"], "loss", "png"), "exp-loss.png");
  assert.equal(exportName(["runs/a"], "loss/train", "csv"), "runs_a-loss_train.csv");
  assert.equal(exportName(["a", "b"], "loss", "png"), "a+b-loss.png");
  assert.equal(exportName([], "loss", "png"), "loss.png");
});

test("image zoom: + always enlarges (beyond the steps, powers of 2), - shrinks, shown as a number", () => {
  assert.equal(nextZoom(1, 1), 2);
  assert.equal(nextZoom(0.7, 1), 1);
  assert.equal(nextZoom(20, 1), 32, "a fit above the last step: + still enlarges");
  assert.equal(nextZoom(35.25, 1), 64);
  assert.equal(nextZoom(16, 1), 32);
  assert.equal(nextZoom(32, 1), 64);
  assert.equal(nextZoom(MAX_ZOOM, 1), MAX_ZOOM);
  for (let s = 0.1; s < MAX_ZOOM; s *= 1.7) assert.ok(nextZoom(s, 1) > s, String(s));
  assert.equal(nextZoom(20, -1), 16);
  assert.equal(nextZoom(0.25, -1), 0.25);
  assert.equal(zoomLabel(2), "2×");
  assert.equal(zoomLabel(2.3456), "2.35×");
  assert.equal(zoomLabel(0.375), "0.38×");
});

test("windows without a size share the grid's width in columns of at least the default", () => {
  const fill = (W: number) => {
    const w = autoWidth(W, 460);
    const cols = Math.floor((W + 10) / (w + 10));
    return { w, cols, left: W - (cols * w + (cols - 1) * 10) };
  };
  assert.deepEqual(fill(1340), { w: 664, cols: 2, left: 2 }, "a 1600 px screen, the picker open");
  assert.equal(fill(1900).cols, 4);
  for (const W of [470, 930, 1340, 1560, 2400, 3800]) {
    const f = fill(W);
    assert.ok(f.w >= 460, `${W}: ${f.w}`);
    assert.ok(f.left >= 0 && f.left < 12, `${W}: ${f.left} px left over`);
  }
  assert.equal(autoWidth(300, 460), 299, "narrower than the default: one column, the grid's width");
  assert.equal(autoWidth(0, 460), 460, "no width yet");
});
