// Bar windows: rows are categories, columns series (grouped, or stacked with
// opts.stacked); several envs put their series side by side. Drawn on a canvas.

import type { WindowState } from "../state";
import { axes, CanvasView, color, el, fmt, seriesLabel, theme, type Ctx } from "./common";

interface Series {
  label: string;
  color: string;
  values: Float64Array;
}

export class BarView extends CanvasView {
  readonly el = el("div", "lp-barchart");
  private legendEl = el("div", "lp-legend");
  private tip = el("div", "lp-tip");
  private series: Series[] = [];
  private labels: string[] = [];
  private stacked = false;
  private hit: { x0: number; x1: number; text: string }[] = [];

  constructor(private readonly ctx: Ctx, private readonly win: string) {
    super();
    this.el.append(this.c.canvas, this.legendEl, this.tip);
    this.c.canvas.addEventListener("mousemove", (ev) => this.hover(ev));
    this.c.canvas.addEventListener("mouseleave", () => (this.tip.style.display = "none"));
  }

  update(wins: WindowState[]): void {
    const n = wins.length;
    this.series = [];
    this.labels = [];
    this.stacked = wins.some((w) => w.opts.stacked === true);
    let k = 0;
    for (const w of wins) {
      const b = w.bar;
      if (!b) continue;
      const legend = Array.isArray(w.opts.legend) ? (w.opts.legend as unknown[]) : [];
      const rownames = b.labels ?? (Array.isArray(w.opts.rownames) ? (w.opts.rownames as unknown[]).map(String) : null);
      if (rownames && rownames.length > this.labels.length) this.labels = rownames.slice(0, b.rows).map(String);
      for (let c = 0; c < b.cols; c++) {
        const values = new Float64Array(b.rows);
        for (let r = 0; r < b.rows; r++) values[r] = b.data[r * b.cols + c];
        const name = typeof legend[c] === "string" ? (legend[c] as string) : b.cols > 1 ? `series ${c}` : "";
        this.series.push({ label: seriesLabel(w.env, name, n, w.win), color: color(k, n > 1 ? undefined : w.opts), values });
        k++;
      }
    }
    this.legendEl.style.display = wins.some((w) => w.opts.showlegend === false) ? "none" : ""; // Visdom's showlegend
    this.legendEl.replaceChildren(
      ...this.series.filter((s) => s.label && s.label !== "y").map((s) => {
        const item = el("span", "lp-legend-item");
        const sw = el("span", "lp-swatch");
        sw.style.background = s.color;
        item.append(sw, el("span", "lp-legend-label", s.label));
        return item;
      }),
    );
    this.draw();
  }

  protected override draw(): void {
    const legendH = this.legendEl.offsetHeight || 0;
    this.c.size(this.w, Math.max(60, this.h - legendH));
    const g = this.c.ctx;
    const th = theme();
    g.clearRect(0, 0, this.c.width, this.c.height);
    const rows = Math.max(0, ...this.series.map((s) => s.values.length));
    let lo = 0;
    let hi = 0;
    for (let r = 0; r < rows; r++) {
      let pos = 0;
      let neg = 0;
      for (const s of this.series) {
        const v = s.values[r];
        if (!Number.isFinite(v)) continue;
        if (this.stacked) {
          if (v >= 0) pos += v;
          else neg += v;
        } else {
          pos = Math.max(pos, v);
          neg = Math.min(neg, v);
        }
      }
      hi = Math.max(hi, pos);
      lo = Math.min(lo, neg);
    }
    if (hi === lo) hi = lo + 1;
    const a = axes(this.c, th, [0, Math.max(1, rows)], [lo, hi], undefined, () => "");
    this.hit = [];
    const slot = a.W / Math.max(1, rows);
    const groups = this.stacked ? 1 : Math.max(1, this.series.length);
    const bw = (slot * 0.8) / groups;
    g.textAlign = "center";
    g.textBaseline = "top";
    for (let r = 0; r < rows; r++) {
      const x0 = a.L + r * slot + slot * 0.1;
      let pos = 0;
      let neg = 0;
      const parts: string[] = [];
      this.series.forEach((s, i) => {
        const v = s.values[r];
        if (!Number.isFinite(v)) return;
        parts.push(`${s.label ? s.label + ": " : ""}${fmt(v)}`);
        let from = 0;
        if (this.stacked) {
          from = v >= 0 ? pos : neg;
          if (v >= 0) pos += v;
          else neg += v;
        }
        const bx = this.stacked ? x0 : x0 + i * bw;
        const y0 = a.sy(from);
        const y1 = a.sy(from + v);
        g.fillStyle = s.color;
        g.fillRect(bx, Math.min(y0, y1), Math.max(1, bw - 1), Math.abs(y1 - y0));
      });
      const label = this.labels[r] ?? String(r);
      this.hit.push({ x0: a.L + r * slot, x1: a.L + (r + 1) * slot, text: `${label}\n${parts.join("\n")}` });
      if (slot > 14) {
        g.fillStyle = th.muted;
        g.fillText(label.length > slot / 6 ? label.slice(0, Math.max(1, Math.floor(slot / 6))) + "…" : label, a.L + (r + 0.5) * slot, a.T + a.H + 4);
      }
    }
    this.ctx.drew(this.win);
  }

  private hover(ev: MouseEvent): void {
    const r = this.c.canvas.getBoundingClientRect();
    const x = ev.clientX - r.left;
    const h = this.hit.find((b) => x >= b.x0 && x < b.x1);
    if (!h) {
      this.tip.style.display = "none";
      return;
    }
    this.tip.textContent = h.text;
    this.tip.style.display = "block";
    this.tip.style.left = `${Math.min(x + 12, this.w - 120)}px`;
    this.tip.style.top = `${ev.clientY - r.top + 12}px`;
  }
}
