// Heatmap windows: the matrix drawn pixel-exact with a colormap, a colour bar,
// and the value under the mouse. With several envs, one heatmap per env.

import * as cmap from "../colormap";
import type { WindowState } from "../state";
import { Canvas, canvasPng, el, fmt, str, theme, ticks, type Ctx, type View } from "./common";

interface Panel {
  env: string;
  c: Canvas;
  rect: { L: number; T: number; W: number; H: number };
  m: { rows: number; cols: number; data: Float64Array };
  xlabels: string[];
  ylabels: string[];
}

export class HeatmapView implements View {
  readonly el = el("div", "lp-heatmap");
  readonly tools = el("span", "lp-tools");
  private select = el("select");
  private panels: Panel[] = [];
  private wins: WindowState[] = [];
  private tip = el("div", "lp-tip");
  private box = el("div", "lp-multi");
  private colormap: string | null = null;
  private w = 400;
  private h = 240;

  constructor(private readonly ctx: Ctx, private readonly win: string) {
    this.select.title = "colormap";
    for (const name of cmap.COLORMAPS) this.select.append(new Option(name, name));
    this.select.addEventListener("change", () => {
      this.colormap = this.select.value;
      this.draw();
    });
    this.tools.append(this.select);
    this.el.append(this.box, this.tip);
  }

  update(wins: WindowState[]): void {
    this.wins = wins.filter((w) => w.heatmap);
    this.draw();
  }

  private draw(): void {
    const th = theme();
    const name = this.colormap ?? str(this.wins[0]?.opts.colormap) ?? "viridis";
    this.select.value = cmap.COLORMAPS.includes(name.toLowerCase()) ? name.toLowerCase() : "viridis";
    const table = cmap.table(name);
    if (this.panels.length !== this.wins.length) {
      this.panels = this.wins.map((w) => {
        const c = new Canvas();
        c.canvas.addEventListener("mousemove", (ev) => this.hover(ev, c));
        c.canvas.addEventListener("mouseleave", () => (this.tip.style.display = "none"));
        return { env: w.env, c, rect: { L: 0, T: 0, W: 0, H: 0 }, m: w.heatmap!, xlabels: [], ylabels: [] };
      });
      this.box.replaceChildren(...this.panels.map((p) => p.c.canvas));
    }
    const multi = this.wins.length > 1;
    const pw = multi ? Math.max(120, this.w / this.wins.length - 4) : this.w;
    this.wins.forEach((w, i) => {
      const p = this.panels[i];
      const m = w.heatmap!;
      p.env = w.env;
      p.m = m;
      p.xlabels = Array.isArray(w.opts.xticklabels) ? (w.opts.xticklabels as unknown[]).map(String) : [];
      p.ylabels = Array.isArray(w.opts.yticklabels) ? (w.opts.yticklabels as unknown[]).map(String) : Array.isArray(w.opts.rownames) ? (w.opts.rownames as unknown[]).map(String) : [];
      p.c.size(pw, this.h);
      const g = p.c.ctx;
      g.clearRect(0, 0, p.c.width, p.c.height);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of m.data) if (Number.isFinite(v)) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
      const top = multi ? 16 : 4;
      const rect = { L: 40, T: top, W: Math.max(10, pw - 40 - 56), H: Math.max(10, this.h - top - 20) };
      p.rect = rect;
      // the matrix, one pixel per cell, scaled without smoothing
      if (m.rows > 0 && m.cols > 0) {
        const img = new ImageData(m.cols, m.rows);
        for (let k = 0; k < m.rows * m.cols; k++) {
          const ci = cmap.index(m.data[k], lo, hi);
          if (ci < 0) continue;
          img.data[k * 4] = table[ci * 3];
          img.data[k * 4 + 1] = table[ci * 3 + 1];
          img.data[k * 4 + 2] = table[ci * 3 + 2];
          img.data[k * 4 + 3] = 255;
        }
        const tmp = document.createElement("canvas");
        tmp.width = m.cols;
        tmp.height = m.rows;
        tmp.getContext("2d")!.putImageData(img, 0, 0);
        g.imageSmoothingEnabled = false;
        g.drawImage(tmp, rect.L, rect.T, rect.W, rect.H);
      }
      g.font = "11px system-ui, sans-serif";
      g.fillStyle = th.muted;
      if (multi) {
        g.textAlign = "left";
        g.textBaseline = "top";
        g.fillText(w.env, rect.L, 2);
      }
      // row and column labels (when they fit)
      g.textBaseline = "middle";
      g.textAlign = "right";
      const ch = rect.H / Math.max(1, m.rows);
      if (ch >= 10) for (let r = 0; r < m.rows; r++) g.fillText(p.ylabels[r] ?? String(r), rect.L - 3, rect.T + (r + 0.5) * ch, 36);
      g.textAlign = "center";
      g.textBaseline = "top";
      const cw = rect.W / Math.max(1, m.cols);
      if (cw >= 18) for (let c = 0; c < m.cols; c++) g.fillText(p.xlabels[c] ?? String(c), rect.L + (c + 0.5) * cw, rect.T + rect.H + 3, cw);
      // colour bar
      const bx = rect.L + rect.W + 8;
      for (let y = 0; y < rect.H; y++) {
        const ci = Math.round(255 * (1 - y / Math.max(1, rect.H - 1)));
        g.fillStyle = `rgb(${table[ci * 3]},${table[ci * 3 + 1]},${table[ci * 3 + 2]})`;
        g.fillRect(bx, rect.T + y, 10, 1);
      }
      g.textAlign = "left";
      g.textBaseline = "middle";
      g.fillStyle = th.muted;
      if (Number.isFinite(lo)) for (const v of ticks(lo, hi, Math.max(3, Math.floor(rect.H / 30)))) g.fillText(fmt(v), bx + 13, rect.T + rect.H - ((v - lo) / (hi - lo || 1)) * rect.H);
    });
    this.ctx.drew(this.win);
  }

  private hover(ev: MouseEvent, c: Canvas): void {
    const p = this.panels.find((q) => q.c === c);
    if (!p) return;
    const b = c.canvas.getBoundingClientRect();
    const x = ev.clientX - b.left - p.rect.L;
    const y = ev.clientY - b.top - p.rect.T;
    const col = Math.floor((x / p.rect.W) * p.m.cols);
    const row = Math.floor((y / p.rect.H) * p.m.rows);
    if (x < 0 || y < 0 || col >= p.m.cols || row >= p.m.rows) {
      this.tip.style.display = "none";
      return;
    }
    const v = p.m.data[row * p.m.cols + col];
    this.tip.textContent = `${this.wins.length > 1 ? p.env + "\n" : ""}${p.ylabels[row] ?? "row " + row}, ${p.xlabels[col] ?? "col " + col}: ${fmt(v)}`;
    this.tip.style.display = "block";
    const eb = this.el.getBoundingClientRect();
    this.tip.style.left = `${ev.clientX - eb.left + 12}px`;
    this.tip.style.top = `${ev.clientY - eb.top + 12}px`;
  }

  resize(width: number, height: number): void {
    this.w = Math.max(100, width);
    this.h = Math.max(80, height);
    this.draw();
  }

  png(): Promise<Blob | null> {
    return canvasPng(this.panels.map((p) => p.c.canvas), theme().bg);
  }

  destroy(): void {}
}
