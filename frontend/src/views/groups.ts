// Group curves of a line window: runs grouped by a config key, each group one mean curve
// with a band (min-max or mean ± std), computed by the server (GET api/v1/group) from the
// full-resolution data aligned by step. This module fetches them: at once when the groups
// change, at most once a second while members log, and never draws a late answer for an
// old grouping or selection.

import { decode } from "@msgpack/msgpack";
import type { Band } from "../settings";
import { toF64, type WireGroup } from "../wire";

/** What to fetch: the groups (name -> member envs that have the window) and the trace names. */
export interface GroupPlan {
  win: string;
  key: string;
  band: Band;
  groups: Map<string, string[]>;
  traces: string[];
}

/** One (group, trace) curve as the server computed it. */
export interface GroupCurve {
  group: string;
  trace: string;
  /** the members that had the trace */
  envs: string[];
  x: Float64Array;
  mean: Float64Array;
  lo: Float64Array;
  hi: Float64Array;
  n: Float64Array;
}

/** A plan's identity: a new one is fetched at once, and answers for an older one are dropped. */
export function planKey(p: GroupPlan): string {
  return JSON.stringify([p.win, p.key, p.band, [...p.groups], p.traces]);
}

/** at most one refetch a second while members log (the curves follow live data) */
export const REFETCH_MS = 1000;

export class GroupFetcher {
  /** the curves of the current plan (null until its first answer) */
  curves: GroupCurve[] | null = null;
  /** the last failure, shown to the user in place of the curves */
  error = "";
  private plan: GroupPlan | null = null;
  private key = "";
  private width = 800;
  private token = 0;
  private inflight = false;
  private again = false;
  private lastStart = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /**
   * @param url the group route's URL for a query (envs repeat)
   * @param ready called when new curves (or an error) arrived for the current plan
   */
  constructor(private readonly url: (query: Record<string, string | number>, envs: string[]) => string, private readonly ready: () => void) {}

  /** The plan to show now (null: not grouped); `changed`: a member's data changed since the last call. */
  want(plan: GroupPlan | null, width: number, changed: boolean): void {
    this.width = Math.max(50, Math.min(4096, Math.round(width)));
    const key = plan ? planKey(plan) : "";
    if (key !== this.key) {
      this.key = key;
      this.plan = plan;
      this.curves = null;
      this.error = "";
      this.token++; // answers in flight are for the old plan
      this.inflight = false;
      this.again = false;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (plan) void this.fetch();
      return;
    }
    // after a refusal, ask again only when the plan changes (not every second while members log)
    if (plan && changed && !this.error) this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    if (this.inflight) {
      this.again = true;
      return;
    }
    const wait = Math.max(0, this.lastStart + REFETCH_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.fetch();
    }, wait);
  }

  private async fetch(): Promise<void> {
    const plan = this.plan;
    if (!plan) return;
    const token = ++this.token;
    this.inflight = true;
    this.again = false;
    this.lastStart = performance.now();
    const jobs: Promise<GroupCurve | null>[] = [];
    for (const [group, envs] of plan.groups)
      for (const trace of plan.traces) jobs.push(this.one(plan, group, envs, trace));
    let curves: GroupCurve[] | null = null;
    let error = "";
    try {
      curves = (await Promise.all(jobs)).filter((c): c is GroupCurve => c !== null);
    } catch (err) {
      error = String(err instanceof Error ? err.message : err);
    }
    if (token !== this.token) return; // a newer plan or fetch took over: this answer is stale
    this.inflight = false;
    if (curves) this.curves = curves;
    this.error = error;
    if (error) console.warn("livepanel: group curves:", error);
    this.ready();
    if (this.again) this.schedule();
  }

  private async one(plan: GroupPlan, group: string, envs: string[], trace: string): Promise<GroupCurve | null> {
    const res = await fetch(this.url({ win: plan.win, trace, band: plan.band, width: this.width }, envs));
    if (res.status === 404) return null; // no member has this trace
    if (!res.ok) throw new Error(`${res.status} ${(await res.text()).slice(0, 200)}`);
    const g = decode(new Uint8Array(await res.arrayBuffer())) as WireGroup;
    return { group, trace, envs: Array.isArray(g.envs) ? g.envs.map(String) : envs, x: toF64(g.x), mean: toF64(g.mean), lo: toF64(g.lo), hi: toF64(g.hi), n: toF64(g.n) };
  }

  destroy(): void {
    this.token++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.plan = null;
  }
}
