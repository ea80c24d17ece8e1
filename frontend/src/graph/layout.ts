// The layered layout of a model graph, group by group: each open module group is laid out by dagre on its
// own (its boxes, and its open subgroups as single boxes of their laid-out size), inside out, and drawn as a
// frame around its content. Groups of the same structure (the 24 blocks of a transformer, the bottlenecks
// of a ResNet stage) have the same signature and are laid out once: a 2,000-node transformer is a few small
// dagre runs, not one large one (dagre's crossing reduction grows faster than the graph, and its depth-first
// passes recurse once per box of a long chain). A group of more than SEGMENT_OVER boxes is laid out in parts
// stacked top to bottom. No DOM: unit-tested under node.

import dagre from "@dagrejs/dagre";

export interface Point {
  x: number;
  y: number;
}

/** A box to place: its size, and the open groups it is inside (outermost first). */
export interface LItem {
  key: string;
  w: number;
  h: number;
  parents: string[];
}

export interface LEdge {
  from: string;
  to: string;
}

/** An open group's frame (top-left corner and size). */
export interface Frame {
  path: string;
  x: number;
  y: number;
  w: number;
  h: number;
  depth: number;
}

export interface Layout {
  /** box centres */
  pos: Map<string, Point>;
  /** open groups, outermost first */
  frames: Frame[];
  /** each edge's points, by its index (empty: not drawn) */
  points: Point[][];
  width: number;
  height: number;
  /** dagre runs made (the rest came from the cache), and the most parts one group was laid out in */
  runs: number;
  parts: number;
}

export const PAD = 10;
export const HEAD = 22;
const ROOT = "\u0000";
export const SEGMENT_OVER = 700;
const SEGMENT = 250;

interface Item {
  key: string;
  w: number;
  h: number;
  x: number;
  y: number;
}

interface Placed {
  /** points per link index */
  points: Map<number, Point[]>;
  width: number;
  height: number;
  parts: number;
}

/** dagre's layout of these items and the links between them (centres written into the items). */
function place(items: Item[], links: LEdge[], ranker: string, only: Set<string> | null = null, quick = false): Placed {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  // network simplex ranks give the tidiest layers; on large graphs the longest path is several times faster
  g.setGraph({ rankdir: "TB", nodesep: 16, ranksep: 24, edgesep: 8, marginx: 8, marginy: 8, ranker });
  g.setDefaultEdgeLabel(() => ({}));
  for (const b of items) g.setNode(b.key, { width: b.w, height: b.h });
  const used: number[] = [];
  links.forEach((e, i) => {
    if (only && !(only.has(e.from) && only.has(e.to))) return;
    g.setEdge(e.from, e.to);
    used.push(i);
  });
  dagre.layout(g, { disableOptimalOrderHeuristic: quick }); // quick: the first order, no crossing reduction sweeps
  for (const b of items) {
    const n = g.node(b.key) as Point;
    b.x = n.x;
    b.y = n.y;
  }
  const points = new Map<number, Point[]>();
  for (const i of used) points.set(i, ((g.edge(links[i].from, links[i].to) as { points?: Point[] } | undefined)?.points ?? []).map((p) => ({ x: p.x, y: p.y })));
  const gg = g.graph() as { width?: number; height?: number };
  return { points, width: gg.width ?? 1, height: gg.height ?? 1, parts: 1 };
}

/** Items in topological order (Kahn's; ties and items on a cycle in the given order). */
export function topological<T extends { key: string }>(items: T[], links: LEdge[]): T[] {
  const index = new Map(items.map((b, i) => [b.key, i]));
  const indeg = new Array<number>(items.length).fill(0);
  const out: number[][] = items.map(() => []);
  for (const e of links) {
    const a = index.get(e.from);
    const b = index.get(e.to);
    if (a === undefined || b === undefined || a === b) continue;
    out[a].push(b);
    indeg[b]++;
  }
  const ready: number[] = [];
  for (let i = 0; i < items.length; i++) if (!indeg[i]) ready.push(i);
  const order: number[] = [];
  const done = new Uint8Array(items.length);
  let next = 0;
  while (order.length < items.length) {
    if (!ready.length) {
      while (done[next]) next++; // a cycle: take the first item left
      ready.push(next);
    }
    let best = 0; // the smallest index first: the graph's own order (a trace's) where the links allow
    for (let j = 1; j < ready.length; j++) if (ready[j] < ready[best]) best = j;
    const i = ready.splice(best, 1)[0];
    if (done[i]) continue;
    done[i] = 1;
    order.push(i);
    for (const j of out[i]) if (--indeg[j] === 0 && !done[j]) ready.push(j);
  }
  return order.map((i) => items[i]);
}

/** Items in parts of SEGMENT in topological order, each laid out by dagre, stacked top to bottom and centred;
 * a link between parts runs from its item's bottom down to the other's top. */
function segmented(items: Item[], links: LEdge[]): Placed {
  const order = topological(items, links);
  const parts = Math.ceil(order.length / SEGMENT);
  const size = Math.ceil(order.length / parts);
  const points = new Map<number, Point[]>();
  const laid: { items: Item[]; width: number; height: number }[] = [];
  for (let p = 0; p < parts; p++) {
    const part = order.slice(p * size, (p + 1) * size);
    // a graph this large has no module groups (an ONNX file without scopes): speed over fewer crossings
    const r = place(part, links, "longest-path", new Set(part.map((b) => b.key)), true);
    for (const [i, pts] of r.points) points.set(i, pts);
    laid.push({ items: part, width: r.width, height: r.height });
  }
  const width = Math.max(...laid.map((l) => l.width));
  const shift = new Map<string, Point>();
  let top = 0;
  for (const l of laid) {
    const dx = (width - l.width) / 2;
    for (const b of l.items) {
      b.x += dx;
      b.y += top;
      shift.set(b.key, { x: dx, y: top });
    }
    top += l.height + 24;
  }
  for (const [i, pts] of points) {
    const d = shift.get(links[i].from)!;
    points.set(i, pts.map((q) => ({ x: q.x + d.x, y: q.y + d.y })));
  }
  const byKey = new Map(items.map((b) => [b.key, b]));
  links.forEach((e, i) => {
    if (points.has(i)) return;
    const a = byKey.get(e.from);
    const b = byKey.get(e.to);
    if (!a || !b) return;
    const y0 = a.y + a.h / 2;
    const y1 = b.y - b.h / 2;
    points.set(i, [{ x: a.x, y: y0 }, { x: a.x, y: y0 + 8 }, { x: b.x, y: y1 - 8 }, { x: b.x, y: y1 }]);
  });
  return { points, width, height: top - 24, parts };
}

function arrange(items: Item[], links: LEdge[]): Placed {
  if (items.length > SEGMENT_OVER) return segmented(items, links);
  try {
    return place(items, links, items.length > 400 ? "longest-path" : "network-simplex");
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return segmented(items, links); // dagre recursed too deep: in parts
  }
}

interface Container {
  path: string;
  depth: number;
  /** child keys in order: box keys, and "\u0001" + path for open subgroups */
  items: string[];
  /** links between its items: item indexes, and the edges (indexes) they carry */
  links: Map<string, { a: number; b: number; edges: number[] }>;
  w: number;
  h: number;
  sig: number;
}

interface Cached {
  rel: Point[];
  pairs: Map<string, Point[]>;
  width: number;
  height: number;
  parts: number;
}

const SUB = "\u0001";

/** Lays out graphs group by group, keeping the layouts of group structures it has seen (across calls). */
export class Layouter {
  private cache = new Map<string, Cached>();
  private sigs = new Map<string, number>();

  /** Drop the layouts kept (a new graph: its groups are laid out anew). */
  forget(): void {
    this.cache.clear();
    this.sigs.clear();
  }

  layout(boxes: LItem[], edges: LEdge[]): Layout {
    if (!boxes.length) return { pos: new Map(), frames: [], points: edges.map(() => []), width: 1, height: 1, runs: 0, parts: 1 };
    const containers = new Map<string, Container>();
    const container = (path: string, depth: number): Container => {
      let c = containers.get(path);
      if (!c) containers.set(path, (c = { path, depth, items: [], links: new Map(), w: 0, h: 0, sig: 0 }));
      return c;
    };
    const root = container(ROOT, 0);
    const size = new Map<string, { w: number; h: number }>();
    const chains = new Map<string, string[]>();
    for (const b of boxes) {
      size.set(b.key, { w: b.w, h: b.h });
      const chain = [ROOT, ...b.parents];
      chains.set(b.key, chain);
      for (let i = 1; i < chain.length; i++) {
        const outer = container(chain[i - 1], i - 1);
        const had = containers.has(chain[i]);
        container(chain[i], i);
        if (!had) outer.items.push(SUB + chain[i]);
      }
      containers.get(chain[chain.length - 1])!.items.push(b.key);
    }
    // each edge belongs to the innermost group around both ends, between the items of it that hold them
    const route: { c: Container; link: string; subA: boolean; subB: boolean }[] = [];
    const indexes = new Map<Container, Map<string, number>>();
    const indexOf = (c: Container, key: string): number => {
      let m = indexes.get(c);
      if (!m) indexes.set(c, (m = new Map(c.items.map((k, i) => [k, i]))));
      return m.get(key)!;
    };
    edges.forEach((e, i) => {
      const ca = chains.get(e.from);
      const cb = chains.get(e.to);
      if (!ca || !cb) return;
      let d = 0;
      while (d < ca.length && d < cb.length && ca[d] === cb[d]) d++;
      const c = containers.get(ca[d - 1])!;
      const subA = d < ca.length;
      const subB = d < cb.length;
      const a = indexOf(c, subA ? SUB + ca[d] : e.from);
      const b = indexOf(c, subB ? SUB + cb[d] : e.to);
      if (a === b) return;
      const link = `${a}>${b}`;
      let l = c.links.get(link);
      if (!l) c.links.set(link, (l = { a, b, edges: [] }));
      l.edges.push(i);
      route[i] = { c, link, subA, subB };
    });
    // inside out: each group's layout (from the cache when its structure was laid out before), then its size
    let runs = 0;
    let parts = 1;
    const laid = new Map<Container, Cached>();
    const sorted = [...containers.values()].sort((a, b) => b.depth - a.depth);
    for (const c of sorted) {
      const dims = c.items.map((k) => (k.startsWith(SUB) ? containers.get(k.slice(1))! : size.get(k)!));
      const shape = c.items.map((k, i) => (k.startsWith(SUB) ? "c" + containers.get(k.slice(1))!.sig : `${dims[i].w}x${dims[i].h}`)).join(",");
      const key = shape + "|" + [...c.links.keys()].sort().join(",");
      let sig = this.sigs.get(key);
      if (sig === undefined) this.sigs.set(key, (sig = this.sigs.size + 1));
      c.sig = sig;
      let done = this.cache.get(key);
      if (!done) {
        const items: Item[] = c.items.map((_, i) => ({ key: String(i), w: dims[i].w, h: dims[i].h, x: 0, y: 0 }));
        const links = [...c.links.values()].map((l) => ({ from: String(l.a), to: String(l.b) }));
        const p = arrange(items, links);
        runs++;
        const pairs = new Map<string, Point[]>();
        [...c.links.keys()].forEach((k, i) => pairs.set(k, p.points.get(i) ?? []));
        done = { rel: items.map((b) => ({ x: b.x, y: b.y })), pairs, width: p.width, height: p.height, parts: p.parts };
        if (this.cache.size > 5000) this.cache.clear();
        this.cache.set(key, done);
      }
      parts = Math.max(parts, done.parts);
      laid.set(c, done);
      c.w = done.width + 2 * PAD;
      c.h = done.height + HEAD + PAD;
    }
    // outside in: positions
    const pos = new Map<string, Point>();
    const origin = new Map<Container, Point>([[root, { x: 0, y: 0 }]]);
    const frames: Frame[] = [];
    for (const c of [...sorted].reverse()) {
      const o = origin.get(c)!;
      const done = laid.get(c)!;
      c.items.forEach((k, i) => {
        const x = o.x + done.rel[i].x;
        const y = o.y + done.rel[i].y;
        if (!k.startsWith(SUB)) {
          pos.set(k, { x, y });
          return;
        }
        const sub = containers.get(k.slice(1))!;
        const left = x - sub.w / 2;
        const top = y - sub.h / 2;
        frames.push({ path: sub.path, x: left, y: top, w: sub.w, h: sub.h, depth: sub.depth });
        origin.set(sub, { x: left + PAD, y: top + HEAD });
      });
    }
    const points: Point[][] = edges.map((e, i) => {
      const r = route[i];
      if (!r) return [];
      const o = origin.get(r.c)!;
      const pts = (laid.get(r.c)!.pairs.get(r.link) ?? []).map((p) => ({ x: p.x + o.x, y: p.y + o.y }));
      const a = pos.get(e.from)!;
      const b = pos.get(e.to)!;
      if (!pts.length) return [a, b];
      if (r.subA) pts.unshift({ x: a.x, y: a.y + size.get(e.from)!.h / 2 }); // from inside a group: from the box itself
      if (r.subB) pts.push({ x: b.x, y: b.y - size.get(e.to)!.h / 2 });
      return pts;
    });
    frames.sort((a, b) => a.depth - b.depth);
    const top = laid.get(root)!;
    return { pos, frames, points, width: top.width, height: top.height, runs, parts };
  }
}
