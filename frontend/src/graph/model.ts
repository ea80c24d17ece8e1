// The model graph as the page holds it: nodes grouped by module path, and the graph shown when some
// groups are collapsed (a collapsed group is one box; edges into and out of it join at the box). Pure:
// no DOM, unit-tested under node. Every string here is user data: views show it with textContent only.

export interface GNode {
  id: string;
  name: string;
  op: string;
  module: string;
  attrs: Record<string, unknown>;
  params: { name: string; shape: number[] | null; count: number }[];
  shape: number[] | null;
}

export interface GEdge {
  from: string;
  to: string;
  shape: number[] | null;
  order: boolean;
}

export interface GModule {
  path: string;
  type: string;
  params: number;
}

export interface WireGraph {
  source: string;
  name: string;
  note: string;
  nodes: GNode[];
  edges: GEdge[];
  modules: GModule[];
}

/** A box on screen: a node, or a collapsed group (`group` is its module path). */
export interface VNode {
  key: string;
  label: string;
  sub: string;
  node: GNode | null;
  group: string | null;
  /** the module paths of the layers inside (a node: its own; a group: every member's) */
  modules: string[];
  /** nodes inside (1 for a node) */
  count: number;
  /** the open groups around the box, outermost first: it is drawn inside their frames */
  parents: string[];
}

export interface VEdge {
  from: string;
  to: string;
  shape: number[] | null;
  order: boolean;
}

const arr = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
const s = (v: unknown): string => (typeof v === "string" ? v : "");
const shapeOf = (v: unknown): number[] | null => (Array.isArray(v) && v.every((d) => typeof d === "number") ? (v as number[]) : null);

/** The graph from the wire, each field checked (a missing or odd one becomes empty, never a crash). */
export function graphFrom(raw: unknown): WireGraph | null {
  if (!raw || typeof raw !== "object") return null;
  const g = raw as Record<string, unknown>;
  const nodes: GNode[] = arr<Record<string, unknown>>(g.nodes).filter((n) => n && typeof n.id === "string").map((n) => ({
    id: n.id as string,
    name: s(n.name) || (n.id as string),
    op: s(n.op),
    module: s(n.module),
    attrs: n.attrs && typeof n.attrs === "object" && !Array.isArray(n.attrs) ? (n.attrs as Record<string, unknown>) : {},
    params: arr<Record<string, unknown>>(n.params).filter((p) => p && typeof p === "object").map((p) => ({ name: s(p.name), shape: shapeOf(p.shape), count: typeof p.count === "number" ? p.count : 0 })),
    shape: shapeOf(n.shape),
  }));
  const ids = new Set(nodes.map((n) => n.id));
  const edges: GEdge[] = arr<Record<string, unknown>>(g.edges)
    .filter((e) => e && ids.has(e.from as string) && ids.has(e.to as string))
    .map((e) => ({ from: e.from as string, to: e.to as string, shape: shapeOf(e.shape), order: e.order === true }));
  const modules: GModule[] = arr<Record<string, unknown>>(g.modules).filter((m) => m && typeof m.path === "string").map((m) => ({ path: m.path as string, type: s(m.type), params: typeof m.params === "number" ? m.params : 0 }));
  return { source: s(g.source), name: s(g.name), note: s(g.note), nodes, edges, modules };
}

/** The proper and full prefixes of a dotted module path: "a.b.c" -> ["a", "a.b", "a.b.c"]. */
export function prefixes(path: string): string[] {
  if (!path) return [];
  const parts = path.split(".");
  return parts.map((_, i) => parts.slice(0, i + 1).join("."));
}

export const shapeText = (shape: number[] | null): string => (shape ? "[" + shape.map((d) => (d < 0 ? "?" : String(d))).join(", ") + "]" : "");

export function countText(n: number): string {
  if (n >= 1e9) return (n / 1e9).toFixed(n >= 1e10 ? 0 : 1) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(n >= 1e4 ? 0 : 1) + "k";
  return String(n);
}

export class GraphModel {
  readonly byId = new Map<string, GNode>();
  /** group path -> ids of the nodes inside (only groups of 2 or more nodes: a lone layer is its node) */
  readonly groups = new Map<string, string[]>();
  readonly moduleInfo = new Map<string, GModule>();
  /** node id -> the groups it is in, outermost first */
  readonly chain = new Map<string, string[]>();
  readonly collapsed = new Set<string>();

  constructor(readonly g: WireGraph) {
    for (const m of g.modules) this.moduleInfo.set(m.path, m);
    const members = new Map<string, string[]>();
    for (const n of g.nodes) {
      this.byId.set(n.id, n);
      for (const p of prefixes(n.module)) {
        let list = members.get(p);
        if (!list) members.set(p, (list = []));
        list.push(n.id);
      }
    }
    // a group holds 2 or more nodes, not all of them calls of the module itself (a ReLU module used three
    // times stays three nodes: one box for them would join three places of the graph into a cycle)
    for (const [p, ids] of members) if (ids.length >= 2 && ids.some((id) => this.byId.get(id)!.module !== p)) this.groups.set(p, ids);
    for (const n of g.nodes) this.chain.set(n.id, prefixes(n.module).filter((p) => this.groups.has(p)));
  }

  /** groups by depth (number of groups around them + 1) */
  depthOf(group: string): number {
    const first = this.groups.get(group)?.[0];
    const chain = first ? this.chain.get(first) ?? [] : [];
    return chain.indexOf(group) + 1;
  }

  /** Collapse groups so that about `budget` boxes show: expand level by level while the whole level fits. */
  collapseToFit(budget: number): void {
    this.collapsed.clear();
    const byDepth = new Map<number, string[]>();
    for (const g of this.groups.keys()) {
      const d = this.depthOf(g);
      let list = byDepth.get(d);
      if (!list) byDepth.set(d, (list = []));
      list.push(g);
    }
    const depths = [...byDepth.keys()].sort((a, b) => a - b);
    for (const g of this.groups.keys()) this.collapsed.add(g);
    for (const d of depths) {
      for (const g of byDepth.get(d)!) this.collapsed.delete(g);
      if (this.visibleCount() > budget) {
        for (const g of byDepth.get(d)!) this.collapsed.add(g);
        break;
      }
    }
  }

  /** The outermost collapsed group a node is in, or null when the node shows. */
  hiddenIn(id: string): string | null {
    for (const g of this.chain.get(id) ?? []) if (this.collapsed.has(g)) return g;
    return null;
  }

  keyOf(id: string): string {
    const g = this.hiddenIn(id);
    return g === null ? "n:" + id : "g:" + g;
  }

  visibleCount(): number {
    const keys = new Set<string>();
    for (const n of this.g.nodes) keys.add(this.keyOf(n.id));
    return keys.size;
  }

  /** Expand every group around a node, so that it shows. */
  reveal(id: string): void {
    for (const g of this.chain.get(id) ?? []) this.collapsed.delete(g);
  }

  /** The boxes and edges shown now. */
  visible(): { nodes: VNode[]; edges: VEdge[] } {
    const nodes = new Map<string, VNode>();
    for (const n of this.g.nodes) {
      const key = this.keyOf(n.id);
      const v = nodes.get(key);
      if (v) {
        v.count++;
        if (n.module && !v.modules.includes(n.module)) v.modules.push(n.module);
        continue;
      }
      const chain = this.chain.get(n.id) ?? [];
      if (key.startsWith("n:")) {
        // a parameter of the model itself: watch() names that layer by the model's class, the graph's name
        const modules = n.module ? [n.module] : n.op === "get_attr" && this.g.name ? [this.g.name] : [];
        nodes.set(key, { key, label: n.name, sub: n.op, node: n, group: null, modules, count: 1, parents: chain });
      } else {
        const group = key.slice(2);
        const type = this.moduleInfo.get(group)?.type ?? "";
        const size = this.groups.get(group)?.length ?? 0;
        const parents = chain.slice(0, chain.indexOf(group));
        nodes.set(key, { key, label: group, sub: `${type ? type + " · " : ""}${size} nodes`, node: null, group, modules: n.module ? [n.module] : [], count: 1, parents });
      }
    }
    const seen = new Map<string, VEdge>();
    for (const e of this.g.edges) {
      const a = this.keyOf(e.from);
      const b = this.keyOf(e.to);
      if (a === b) continue;
      const k = a + "\u0000" + b;
      const had = seen.get(k);
      if (had) {
        if (had.shape && e.shape && shapeText(had.shape) !== shapeText(e.shape)) had.shape = null; // several tensors: no one shape
        had.order = had.order && e.order;
      } else seen.set(k, { from: a, to: b, shape: e.shape, order: e.order });
    }
    return { nodes: [...nodes.values()], edges: [...seen.values()] };
  }

  /** Nodes whose name, op or module path holds the query (case-insensitive), in graph order. */
  search(query: string): string[] {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    return this.g.nodes.filter((n) => n.name.toLowerCase().includes(q) || n.op.toLowerCase().includes(q) || n.module.toLowerCase().includes(q)).map((n) => n.id);
  }

  inputs(id: string): GEdge[] {
    return this.g.edges.filter((e) => e.to === id);
  }

  outputs(id: string): GEdge[] {
    return this.g.edges.filter((e) => e.from === id);
  }
}

/** The colour scale's ends for these values: from the 5th to the 95th percentile when there are 20 or more
 * (one layer whose gradients vanished would otherwise paint every other layer the same colour; the values
 * past the ends take the end colours), else from the least to the greatest. */
export function colorRange(values: number[]): { lo: number; hi: number; clipped: boolean } {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return { lo: NaN, hi: NaN, clipped: false };
  if (v.length < 20) return { lo: v[0], hi: v[v.length - 1], clipped: false };
  const at = (q: number) => v[Math.round(q * (v.length - 1))];
  const lo = at(0.05);
  const hi = at(0.95);
  return hi > lo ? { lo, hi, clipped: lo > v[0] || hi < v[v.length - 1] } : { lo: v[0], hi: v[v.length - 1], clipped: false };
}
