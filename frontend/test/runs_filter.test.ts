import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { compileRegex, FilterError, parse } from "../src/runs/filter";
import type { RunRow } from "../src/wire";

// the cases tests/test_runs_filter_cases.py runs through livepanel/runs_filter.py: the two can never drift
interface Case {
  expr: string;
  rows?: string;
  match?: string[];
  message?: string;
  error?: string;
}
const shared = JSON.parse(readFileSync(new URL("../../tests/runs_filter_cases.json", import.meta.url), "utf8")) as { rows: Record<string, RunRow[]>; cases: Case[] };

test("every shared case: the same matching runs, or the same error, as the server", () => {
  assert.ok(shared.cases.length > 100);
  for (const c of shared.cases) {
    if (c.match) {
      const f = parse(c.expr);
      assert.deepEqual(
        shared.rows[c.rows!].filter((r) => f.matches(r)).map((r) => r.env),
        c.match,
        c.expr,
      );
      continue;
    }
    assert.throws(
      () => parse(c.expr),
      (exc: unknown) => {
        assert.ok(exc instanceof FilterError, `${c.expr}: ${String(exc)}`);
        if (c.message !== undefined) assert.equal(exc.message, c.message, c.expr);
        else assert.ok(exc.message.includes(c.error!), `${c.expr}: ${exc.message}`);
        return true;
      },
      c.expr,
    );
  }
});

test("a filter that is not text is refused with a message", () => {
  assert.throws(() => parse(3 as unknown as string), /must be a string/);
});

test("regexes that are written for Python read the same in the page", () => {
  for (const [pattern, text, want] of [
    ["(?P<a>x)y", "xy", true],
    ["\\Ax", "ax", false],
    ["a{,2}b", "aab", true],
    ["[]x]", "]", true],
    ["\\x41", "A", true],
    ["(?i)ADAM", "adam", true],
    ["a\\-b", "a-b", true],
    ["a/b", "a/b", true],
  ] as [string, string, boolean][]) {
    assert.equal(compileRegex(pattern).test(text), want, pattern);
  }
});

test("what the page cannot do the server's way is refused with a message, never done differently", () => {
  assert.throws(() => compileRegex("(?i:a)b"), /scoped flags \(\?i:\.\.\.\) are not supported in the page/);
  assert.throws(() => compileRegex("(?x)a b"), /the flag \(\?x\) is not supported in the page/);
});

test("a pathological regex cannot stall the page either", () => {
  const t0 = performance.now();
  assert.throws(() => parse('name ~ "(a+)+$"'), /repeat inside a repeat/);
  const f = parse('name ~ "^(a|b)*c$"');
  assert.equal(f.matches({ env: "ab".repeat(5000) } as RunRow), false);
  assert.ok(performance.now() - t0 < 500);
});
