// Histogram windows: the latest step by default, a step slider, and a
// distribution-over-steps view (each step a column, counts as colour).
// Several envs overlay their bars (outlined, translucent).

import * as cmap from "../colormap";
import type { HistStep, WindowState } from "../state";
import { axes, CanvasView, color, el, fmt, seriesLabel, StepSlider, theme, type Ctx } from "./common";

export class HistogramView extends CanvasView {
  readonly el = el("div", "lp-histogram");
  readonly tools = el("span", "lp-tools");
  private slider: StepSlider;
  private modeSel = el("select");
  private legendEl = el("div", "lp-legend");
  private info = el("div", "lp-hist-info");
  private wins: WindowState[] = [];
  private mode: "step" | "distribution" = "step";

  constructor(private readonly ctx: Ctx, private readonly win: string) {
    super();
    this.slider = new StepSlider(() => this.draw());
    this.modeSel.title = "view";
    this.modeSel.append(new Option("one step", "step"), new Option("over steps", "distribution"));
    this.modeSel.addEventListener("change", () => {
      this.mode = this.modeSel.value as "step" | "distribution";
      this.draw();
    });
    this.tools.append(this.modeSel);
    this.el.append(this.c.canvas, this.slider.el, this.info, this.legendEl);
  }

  update(wins: WindowState[]): void {
    this.wins = wins.filter((w) => w.hist.length);
    const n = this.wins.length;
    this.legendEl.replaceChildren(
      ...(n > 1
        ? this.wins.map((w, i) => {
            const item = el("span", "lp-legend-item");
            const sw = el("span", "lp-swatch");
            sw.style.background = color(i);
            item.append(sw, el("span", "lp-legend-label", seriesLabel(w.env, "", n, w.win)));
            return item;
          })
        : []),
    );
    this.draw();
  }

  protected override draw(): void {
    const th = theme();
    const first = this.wins[0];
    const steps = first ? first.hist.map((s) => s.step) : [];
    const at = this.slider.set(this.mode === "step" ? steps : []);
    const extraH = (this.slider.el.offsetHeight || 0) + (this.legendEl.offsetHeight || 0) + (this.info.offsetHeight || 0);
    this.c.size(this.w, Math.max(60, this.h - extraH));
    const g = this.c.ctx;
    g.clearRect(0, 0, this.c.width, this.c.height);
    if (!first) return;
    if (this.mode === "distribution") this.drawDistribution(first.hist, th);
    else {
      const chosen = first.hist[at];
      const shown: { step: HistStep; color: string }[] = this.wins.map((w, i) => {
        const s = w.hist.find((h) => h.step === chosen.step) ?? w.hist[w.hist.length - 1];
        return { step: s, color: this.wins.length > 1 ? color(i) : color(0, w.opts) };
      });
      let x0 = Infinity;
      let x1 = -Infinity;
      let y1 = 0;
      for (const { step } of shown) {
        if (step.edges.length) (x0 = Math.min(x0, step.edges[0])), (x1 = Math.max(x1, step.edges[step.edges.length - 1]));
        for (const c of step.counts) if (Number.isFinite(c)) y1 = Math.max(y1, c);
      }
      if (!(x1 > x0)) (x0 = 0), (x1 = 1);
      const a = axes(this.c, th, [x0, x1], [0, y1 || 1]);
      const overlay = shown.length > 1;
      for (const { step, color: col } of shown) {
        g.fillStyle = col;
        g.strokeStyle = col;
        g.globalAlpha = overlay ? 0.35 : 0.85;
        for (let i = 0; i < step.counts.length; i++) {
          const L = a.sx(step.edges[i]);
          const R = a.sx(step.edges[i + 1]);
          const T = a.sy(step.counts[i]);
          g.fillRect(L, T, Math.max(1, R - L - (overlay ? 0 : 0.5)), a.T + a.H - T);
        }
        g.globalAlpha = 1;
      }
      const st = shown[0].step.stats;
      this.info.textContent = Object.keys(st).length ? Object.entries(st).map(([k, v]) => `${k} ${fmt(v)}`).join("  ") : "";
    }
    this.ctx.drew(this.win);
  }

  private drawDistribution(hist: HistStep[], th: ReturnType<typeof theme>): void {
    const g = this.c.ctx;
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of hist) if (s.edges.length) (lo = Math.min(lo, s.edges[0])), (hi = Math.max(hi, s.edges[s.edges.length - 1]));
    if (!(hi > lo)) (lo = 0), (hi = 1);
    const s0 = hist[0].step;
    const s1 = hist[hist.length - 1].step;
    const a = axes(this.c, th, [s0, s1 === s0 ? s0 + 1 : s1 + 1], [lo, hi]);
    const colW = a.W / hist.length;
    const table = cmap.table("viridis");
    for (let k = 0; k < hist.length; k++) {
      const s = hist[k];
      let max = 0;
      for (let i = 0; i < s.counts.length; i++) {
        // density, so that unequal bins compare fairly
        const d = s.counts[i] / Math.max(1e-300, s.edges[i + 1] - s.edges[i]);
        if (Number.isFinite(d)) max = Math.max(max, d);
      }
      for (let i = 0; i < s.counts.length; i++) {
        const d = s.counts[i] / Math.max(1e-300, s.edges[i + 1] - s.edges[i]);
        if (!(d > 0)) continue;
        const ci = cmap.index(d, 0, max || 1);
        g.fillStyle = `rgb(${table[ci * 3]},${table[ci * 3 + 1]},${table[ci * 3 + 2]})`;
        const yTop = a.sy(s.edges[i + 1]);
        const yBot = a.sy(s.edges[i]);
        g.fillRect(a.L + k * colW, yTop, Math.ceil(colW), Math.max(1, yBot - yTop));
      }
    }
    this.info.textContent = `${hist.length} steps, ${s0} to ${s1}${this.wins.length > 1 ? ` (${this.wins[0].env})` : ""}`;
  }
}
