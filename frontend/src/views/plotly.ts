// Plotly windows: a Plotly figure drawn as it is by Plotly.js, which loads on first need (lazy.ts) so
// pages without such a window stay as small as before. With several envs, the first env's figure shows
// (a figure is a whole picture: two are not overlaid). LaTeX between dollars renders with MathJax.

import { plotly, type PlotlyLib } from "../lazy";
import { hasTex, toFigure, traceCount } from "../plotlyfig";
import type { WindowState } from "../state";
import { el, theme, type Ctx, type View } from "./common";
import { fast3d, fast3dFigure, type Fast3dScene } from "./fast3d";

// no mode bar: Plotly styles it with an inline <style> per plot, which the page's CSP refuses (drag
// zooms and rotates, a double click resets, and the window's header saves a PNG)
const CONFIG = { displaylogo: false, displayModeBar: false, responsive: false, showSendToCloud: false };

export class PlotlyView implements View {
  readonly el = el("div", "lp-plotly");
  private plot = el("div", "lp-plotly-plot");
  private note = el("div", "lp-plotly-note");
  private lib: PlotlyLib | null = null;
  /** the fast 3-D path's scene while it draws this window (views/fast3d.ts), else null */
  private fast: Fast3dScene | null = null;
  private figure: unknown = undefined;
  private shown: unknown = undefined;
  private shownSize = "";
  private w = 400;
  private h = 240;
  private busy = false;
  private again = false;
  private gone = false;
  /** the frame gave its size: drawing before would draw twice (and 3-D scenes keep their first size) */
  private sized = false;

  constructor(private readonly ctx: Ctx, private readonly win: string) {
    this.el.dataset.state = "loading";
    this.note.hidden = true;
    this.el.append(this.plot, this.note);
  }

  update(wins: WindowState[]): void {
    const first = wins.find((w) => w.figure != null);
    this.figure = first?.figure;
    this.el.dataset.env = first?.env ?? "";
    this.el.title = wins.length > 1 && first ? `the figure of ${first.env} (one of ${wins.length} envs)` : "";
    void this.draw();
  }

  /** Draw the newest figure; one Plotly call at a time, the latest figure wins. */
  private async draw(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        const raw = this.figure;
        if (raw === undefined || !this.sized) break;
        const size = `${this.w}x${this.h}`;
        if (raw === this.shown && size === this.shownSize) break; // an options or alerts change: nothing to redraw
        if (await this.drawFast(raw)) {
          if (this.gone) return;
          this.shown = raw;
          this.shownSize = size;
          this.note.hidden = true;
          this.ctx.drew(this.win);
          continue;
        }
        const lib = this.lib ?? (this.lib = await plotly(hasTex(raw)));
        if (this.gone) return;
        const fig = toFigure(raw);
        const th = theme();
        const layout: Record<string, unknown> = {
          paper_bgcolor: "rgba(0,0,0,0)",
          plot_bgcolor: "rgba(0,0,0,0)",
          font: { color: th.fg },
          margin: { l: 50, r: 20, t: 30, b: 40 },
          ...fig.layout,
          width: this.w,
          height: this.h,
          autosize: false,
        };
        const t0 = performance.now();
        await lib.react(this.plot, fig.data, layout, CONFIG);
        if (this.gone) return;
        this.shown = raw;
        this.shownSize = size;
        this.el.dataset.state = "drawn";
        this.el.dataset.traces = String(traceCount(raw));
        this.el.dataset.drawMs = (performance.now() - t0).toFixed(1);
        this.note.hidden = true;
        this.ctx.drew(this.win);
      } while (this.again);
    } catch (err) {
      this.el.dataset.state = "error";
      this.note.hidden = false;
      this.note.textContent = `cannot draw this figure: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      this.busy = false;
    }
  }

  /** Draw with the fast 3-D path when it can (else leave it, and the window goes back to Plotly). */
  private async drawFast(raw: unknown): Promise<boolean> {
    if (!fast3dFigure(raw)) {
      if (this.fast) this.fast.destroy();
      this.fast = null;
      delete this.el.dataset.renderer;
      return false;
    }
    const lib = await fast3d();
    if (this.gone) return true;
    if (!this.fast) {
      if (this.lib) this.lib.purge(this.plot);
      this.fast = lib.create(this.plot);
    }
    const t0 = performance.now();
    this.fast.draw(toFigure(raw), this.w, this.h, theme());
    this.el.dataset.renderer = "fast3d";
    this.el.dataset.state = "drawn";
    this.el.dataset.traces = String(traceCount(raw));
    this.el.dataset.drawMs = (performance.now() - t0).toFixed(1);
    return true;
  }

  resize(width: number, height: number): void {
    const w = Math.max(50, Math.floor(width));
    const h = Math.max(50, Math.floor(height));
    if (w === this.w && h === this.h) return;
    this.w = w;
    this.h = h;
    this.sized = true;
    void this.draw(); // Plotly.react with the new size (a relayout leaves a 3-D scene's canvas at its old size)
  }

  async png(): Promise<Blob | null> {
    if (this.fast) return this.fast.png();
    if (!this.lib || this.shown === undefined) return null;
    const url = await this.lib.toImage(this.plot, { format: "png", width: this.w, height: this.h });
    const comma = url.indexOf(",");
    const bin = atob(url.slice(comma + 1)); // a data: URL (the page's CSP lets fetch() reach only its server)
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Blob([bytes], { type: "image/png" });
  }

  destroy(): void {
    this.gone = true;
    this.fast?.destroy();
    if (this.lib) this.lib.purge(this.plot);
    this.el.remove();
  }
}
