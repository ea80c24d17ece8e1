// Image windows: the images of one step (a grid when there are several), a
// step slider, and crisp pixel zoom (no smoothing). Images come from
// api/v1/image as <img src>. Several envs: one row per env.

import type { WindowState } from "../state";
import { MAX_ZOOM, nextZoom, zoomLabel } from "../finding";
import { el, StepSlider, type Ctx, type View } from "./common";
import type { Pick } from "../events";

export class ImageView implements View {
  readonly el = el("div", "lp-image");
  readonly tools = el("span", "lp-tools");
  private slider: StepSlider;
  private box = el("div", "lp-image-box");
  /** the zoom level, shown once: the scale in use (when fitting, the fit's) */
  private zoomText = el("span", "lp-zoom");
  private inBtn = el("button", "", "+");
  private fitBtn = el("button", "lp-toggle on", "fit");
  private wins: WindowState[] = [];
  /** 0: fit the window; else a pixel scale */
  private scale = 0;
  private shown = "";
  private loaded = 0;

  constructor(private readonly ctx: Ctx, private readonly win: string) {
    this.slider = new StepSlider(() => this.draw());
    const out = el("button", "", "−");
    const inn = this.inBtn;
    const fit = this.fitBtn;
    out.type = inn.type = fit.type = "button";
    out.title = "zoom out";
    inn.title = "zoom in (pixels stay sharp)";
    fit.title = "fit to window";
    fit.setAttribute("aria-pressed", "true");
    this.zoomText.setAttribute("aria-label", "zoom");
    // from "fit" too, "+" enlarges: the next step above the scale shown (a small image fits at 20×: 32×)
    const cur = () => this.scale || this.fitScale();
    inn.addEventListener("click", () => this.setScale(nextZoom(cur(), 1)));
    out.addEventListener("click", () => this.setScale(nextZoom(cur(), -1)));
    fit.addEventListener("click", () => this.setScale(0));
    this.tools.append(out, this.zoomText, inn, fit);
    this.el.append(this.box, this.slider.el);
  }

  /** The scale at which every image of the step fits the window (what "fit" shows). */
  private fitScale(): number {
    const rows = [...this.box.querySelectorAll<HTMLElement>(".lp-image-row")];
    if (!rows.length) return 1;
    const W = Math.max(20, this.box.clientWidth - 8);
    const H = Math.max(20, (this.box.clientHeight - 8) / rows.length);
    let scale = Infinity;
    for (const row of rows) {
      const imgs = [...row.querySelectorAll("img")];
      if (!imgs.length) continue;
      const cols = Number(row.dataset.cols) || 1;
      const nrows = Math.ceil(imgs.length / cols);
      const w = Math.max(...imgs.map((i) => Number(i.dataset.w) || 1));
      const h = Math.max(...imgs.map((i) => Number(i.dataset.h) || 1));
      const caption = row.querySelector("figcaption") ? 16 : 0;
      const label = row.querySelector(".lp-image-env") ? 16 : 0;
      scale = Math.min(scale, (W - 2 * (cols - 1)) / (cols * w), (H - label - nrows * caption - 2 * (nrows - 1)) / (nrows * h));
    }
    return Number.isFinite(scale) && scale > 0 ? scale : 1;
  }

  private setScale(s: number): void {
    this.scale = s;
    this.applyScale();
  }

  private applyScale(): void {
    const scale = this.scale || this.fitScale();
    this.zoomText.textContent = zoomLabel(scale);
    this.fitBtn.classList.toggle("on", !this.scale);
    this.fitBtn.setAttribute("aria-pressed", String(!this.scale));
    this.inBtn.disabled = scale >= MAX_ZOOM;
    for (const img of this.box.querySelectorAll<HTMLImageElement>("img")) {
      img.style.width = `${Math.max(1, Math.floor((Number(img.dataset.w) || 1) * scale))}px`;
      img.style.height = `${Math.max(1, Math.floor((Number(img.dataset.h) || 1) * scale))}px`;
    }
  }

  update(wins: WindowState[]): void {
    this.wins = wins.filter((w) => w.images.length);
    this.draw();
  }

  private draw(): void {
    const first = this.wins[0];
    const steps = first ? first.images.map((s) => s.step) : [];
    const at = this.slider.set(steps);
    const step = first?.images[at]?.step;
    const key = JSON.stringify(this.wins.map((w) => [w.env, w.images.find((s) => s.step === step)?.images.length ?? 0, w.images.find((s) => s.step === step) ? step : w.images[w.images.length - 1]?.step, w.version]));
    if (key === this.shown) return;
    this.shown = key;
    const multi = this.wins.length > 1;
    const rows = this.wins.map((w) => {
      const s = w.images.find((x) => x.step === step) ?? w.images[w.images.length - 1];
      const row = el("div", "lp-image-row");
      if (multi) row.append(el("div", "lp-image-env", w.env));
      const grid = el("div", "lp-image-grid");
      const nrow = typeof w.opts.nrow === "number" && w.opts.nrow > 0 ? w.opts.nrow : Math.ceil(Math.sqrt(s.images.length));
      const cols = Math.min(nrow, s.images.length);
      row.dataset.cols = String(cols);
      grid.style.gridTemplateColumns = `repeat(${cols}, auto)`;
      s.images.forEach((meta, i) => {
        const fig = el("figure");
        const img = el("img");
        img.alt = meta.caption || `${w.win} step ${s.step} image ${i}`;
        img.dataset.w = String(meta.width);
        img.dataset.h = String(meta.height);
        img.width = meta.width;
        img.height = meta.height;
        img.decoding = "async";
        img.addEventListener("load", () => {
          this.loaded++;
          this.ctx.drew(this.win);
        });
        img.src = this.ctx.api("image", { env: w.env, win: w.win, step: s.step, i });
        fig.append(img);
        if (meta.caption) fig.append(el("figcaption", "", meta.caption));
        grid.append(fig);
      });
      row.append(grid);
      return row;
    });
    this.box.replaceChildren(...rows);
    this.applyScale();
    this.ctx.drew(this.win);
  }

  /** For a click's event (events.ts): the pixel of the image under the pointer (Visdom's image_coord),
   * counted in the image's own pixels from its top left, whatever the zoom. */
  pick(cx: number, cy: number): Pick | null {
    for (const img of this.box.querySelectorAll<HTMLImageElement>("img")) {
      const r = img.getBoundingClientRect();
      if (cx < r.left || cy < r.top || cx >= r.right || cy >= r.bottom || !r.width || !r.height) continue;
      const w = Number(img.dataset.w) || r.width;
      const h = Number(img.dataset.h) || r.height;
      const env = new URL(img.src, location.href).searchParams.get("env") ?? "";
      return { env, x: Math.floor(((cx - r.left) * w) / r.width), y: Math.floor(((cy - r.top) * h) / r.height), point: null };
    }
    return null;
  }

  resize(): void {
    if (!this.scale) this.applyScale();
  }

  png(): Promise<Blob | null> {
    const imgs = [...this.box.querySelectorAll<HTMLImageElement>("img")].filter((i) => i.complete && i.naturalWidth);
    if (!imgs.length) return Promise.resolve(null);
    const nat = imgs.map((i) => [i.naturalWidth, i.naturalHeight]);
    const w = nat.reduce((s, [a]) => s + a, 0) + 2 * (imgs.length - 1);
    const h = Math.max(...nat.map(([, b]) => b));
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    const g = c.getContext("2d")!;
    let x = 0;
    imgs.forEach((img, k) => {
      g.drawImage(img, x, 0);
      x += nat[k][0] + 2;
    });
    return new Promise((r) => c.toBlob(r, "image/png"));
  }

  destroy(): void {}
}
