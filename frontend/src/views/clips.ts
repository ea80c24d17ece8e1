// Audio and video windows (livepanel/clips.py): one file per step and a step
// slider, as image windows have. Files load from api/v1/media?step= (served
// with byte ranges, so the players can seek). Several envs: one row per env.
// - audio: the browser's player, and the waveform drawn from the peaks the
//   sender computed (min and max per column, per channel), so it shows before
//   the file loads and nothing is decoded here; a click on it seeks, and a line
//   follows the playhead.
// - video: the browser's player and a frame slider that seeks by frame (to the
//   middle of frame i: (i + 0.5) / fps), following the playhead while it plays.

import type { ClipStep, WindowState } from "../state";
import { isWireArray, typed } from "../wire";
import { canvasPng, el, StepSlider, theme, type Ctx, type View } from "./common";

const WAVE_HEIGHT = 96;

interface Row {
  el: HTMLElement;
  env: string;
  step: ClipStep;
  media: HTMLMediaElement;
  wave?: HTMLCanvasElement;
  peaks?: { channels: number; cols: number; data: Float32Array | Float64Array };
}

const num = (v: unknown, dflt = 0): number => (typeof v === "number" && Number.isFinite(v) ? v : dflt);

export class ClipView implements View {
  readonly el = el("div", "lp-clip");
  private slider: StepSlider;
  private box = el("div", "lp-clip-box");
  private wins: WindowState[] = [];
  private rows: Row[] = [];
  private shown = "";
  private raf = 0;

  constructor(readonly kind: "audio" | "video", private readonly ctx: Ctx, private readonly win: string) {
    this.slider = new StepSlider(() => this.draw());
    this.el.style.cssText = "display:flex;flex-direction:column;height:100%";
    this.box.style.cssText = "flex:1;min-height:0;overflow:auto;padding:4px";
    this.el.append(this.box, this.slider.el);
  }

  update(wins: WindowState[]): void {
    this.wins = wins.filter((w) => w.clips?.length);
    this.draw();
  }

  /** The files shown (one per env): what the window's FILE export downloads. */
  files(): { env: string; step: number; ext: string }[] {
    return this.rows.map((r) => ({ env: r.env, step: r.step.step, ext: String(r.step.meta.format ?? "bin") }));
  }

  private draw(): void {
    const first = this.wins[0];
    const steps = first ? first.clips!.map((s) => s.step) : [];
    const at = this.slider.set(steps);
    const step = first?.clips![at]?.step;
    const chosen = this.wins.map((w) => w.clips!.find((s) => s.step === step) ?? w.clips![w.clips!.length - 1]);
    const key = JSON.stringify(this.wins.map((w, i) => [w.env, chosen[i].step, chosen[i].t, chosen[i].meta.size]));
    if (key === this.shown) return;
    this.shown = key;
    for (const r of this.rows) r.media.pause();
    const multi = this.wins.length > 1;
    this.rows = this.wins.map((w, i) => this.row(w, chosen[i], multi));
    this.box.replaceChildren(...this.rows.map((r) => r.el));
    this.paint();
    this.ctx.drew(this.win);
  }

  private row(w: WindowState, s: ClipStep, multi: boolean): Row {
    const sec = el("section", "lp-clip-env");
    if (multi) sec.append(el("div", "lp-image-env", w.env));
    const src = this.ctx.api("media", { env: w.env, win: w.win, step: s.step, v: s.t });
    const m = s.meta;
    if (this.kind === "audio") {
      const media = document.createElement("audio");
      media.controls = true;
      media.preload = "metadata";
      media.src = src;
      media.style.cssText = "display:block;width:100%";
      const wave = document.createElement("canvas");
      wave.className = "lp-wave";
      wave.style.cssText = `display:block;width:100%;height:${WAVE_HEIGHT}px;cursor:pointer`;
      wave.title = "click to play from here";
      const rate = num(m.sample_rate, 1);
      const seconds = num(m.samples) / rate;
      wave.addEventListener("click", (e) => {
        const r = wave.getBoundingClientRect();
        const d = Number.isFinite(media.duration) ? media.duration : seconds;
        media.currentTime = Math.max(0, Math.min(d, ((e.clientX - r.left) / Math.max(1, r.width)) * d));
        this.paint();
      });
      for (const ev of ["play", "pause", "seeked", "timeupdate", "ended"]) media.addEventListener(ev, () => this.schedule());
      const info = `${rate} Hz · ${num(m.channels) === 2 ? "stereo" : "mono"} · ${seconds.toFixed(2)} s · ${String(m.dtype ?? "")}`;
      sec.append(wave, media, el("div", "lp-image-env", info));
      let peaks: Row["peaks"];
      if (isWireArray(m.peaks) && m.peaks.shape.length === 3) {
        const [channels, , cols] = m.peaks.shape;
        peaks = { channels, cols, data: typed(m.peaks) as Float32Array };
      }
      return { el: sec, env: w.env, step: s, media, wave, peaks };
    }
    const media = document.createElement("video");
    media.controls = true;
    media.muted = true;
    media.preload = "auto";
    media.src = src;
    media.style.cssText = "display:block;max-width:100%;image-rendering:pixelated";
    media.width = Math.max(num(m.width, 160), Math.min(320, num(m.width, 160) * 4));
    const fps = num(m.fps, 25);
    const frames = Math.max(1, num(m.frames, 1));
    const label = el("label", "lp-step lp-frame");
    const input = el("input");
    const text = el("span");
    input.type = "range";
    input.min = "0";
    input.max = String(frames - 1);
    input.step = "1";
    input.value = "0";
    input.setAttribute("aria-label", "frame");
    label.append(input, text);
    const show = (i: number) => {
      input.value = String(i);
      text.textContent = `frame ${i + 1} / ${frames}`;
    };
    show(0);
    let seeking = false;
    input.addEventListener("input", () => {
      seeking = true;
      media.pause();
      const i = Number(input.value);
      show(i);
      media.currentTime = (i + 0.5) / fps;
    });
    media.addEventListener("seeked", () => {
      seeking = false;
      this.ctx.drew(this.win);
    });
    const follow = () => {
      if (!seeking) show(Math.min(frames - 1, Math.max(0, Math.floor(media.currentTime * fps))));
    };
    for (const ev of ["timeupdate", "play", "pause", "ended"]) media.addEventListener(ev, follow);
    // while playing, follow each frame shown (timeupdate comes only a few times a second)
    const rvfc = (media as HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number }).requestVideoFrameCallback;
    if (rvfc) {
      const onFrame = () => {
        follow();
        if (!media.paused && !media.ended) rvfc.call(media, onFrame);
      };
      media.addEventListener("play", () => rvfc.call(media, onFrame));
    }
    const info = `${num(m.width)}×${num(m.height)} · ${fps} fps · ${frames} frames`;
    sec.append(media, label, el("div", "lp-image-env", info));
    return { el: sec, env: w.env, step: s, media };
  }

  /** Repaint the waveforms now, and on every frame while one plays. */
  private schedule(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.paint();
      if (this.rows.some((r) => r.wave && !r.media.paused)) this.schedule();
    });
  }

  private paint(): void {
    const th = theme();
    for (const r of this.rows) {
      const c = r.wave;
      if (!c) continue;
      const dpr = window.devicePixelRatio || 1;
      const W = Math.max(1, c.clientWidth || 300);
      const H = WAVE_HEIGHT;
      if (c.width !== Math.round(W * dpr)) c.width = Math.round(W * dpr);
      if (c.height !== Math.round(H * dpr)) c.height = Math.round(H * dpr);
      const g = c.getContext("2d")!;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.fillStyle = th.bg;
      g.fillRect(0, 0, W, H);
      const p = r.peaks;
      if (p) {
        const band = H / p.channels;
        let top = 1;
        for (let i = 0; i < p.data.length; i++) top = Math.max(top, Math.abs(p.data[i]));
        g.fillStyle = th.accent;
        for (let ch = 0; ch < p.channels; ch++) {
          const mid = band * (ch + 0.5);
          const half = (band / 2 - 2) / top; // values beyond -1..1 (they clip when played) still fit
          const lo = p.data.subarray((ch * 2) * p.cols, (ch * 2 + 1) * p.cols);
          const hi = p.data.subarray((ch * 2 + 1) * p.cols, (ch * 2 + 2) * p.cols);
          for (let x = 0; x < W; x++) {
            const a = Math.floor((x * p.cols) / W);
            const b = Math.max(a + 1, Math.floor(((x + 1) * p.cols) / W));
            let mn = Infinity;
            let mx = -Infinity;
            for (let k = a; k < b && k < p.cols; k++) {
              if (lo[k] < mn) mn = lo[k];
              if (hi[k] > mx) mx = hi[k];
            }
            if (mn > mx) continue;
            g.fillRect(x, mid - mx * half, 1, Math.max(1, (mx - mn) * half));
          }
        }
      }
      const d = r.media.duration || num(r.step.meta.samples) / num(r.step.meta.sample_rate, 1);
      if (d > 0 && r.media.currentTime > 0) {
        g.fillStyle = th.fg;
        g.fillRect(Math.min(W - 1, (r.media.currentTime / d) * W), 0, 1, H);
      }
    }
  }

  resize(): void {
    this.paint();
  }

  /** The waveforms, or the video frames shown, as PNG. */
  png(): Promise<Blob | null> {
    const canvases = this.rows.flatMap((r) => {
      if (r.wave) return [r.wave];
      const v = r.media as HTMLVideoElement;
      if (!v.videoWidth) return [];
      const c = document.createElement("canvas");
      c.width = v.videoWidth;
      c.height = v.videoHeight;
      c.getContext("2d")!.drawImage(v, 0, 0);
      return [c];
    });
    return canvases.length ? canvasPng(canvases, theme().bg) : Promise.resolve(null);
  }

  destroy(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    for (const r of this.rows) r.media.pause();
  }
}
