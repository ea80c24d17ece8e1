// Text windows: markdown rendered by `marked`, then sanitized by DOMPurify
// (markdown.ts) before it touches the DOM. Several envs: one section per env.

import { renderMarkdown } from "../markdown";
import type { WindowState } from "../state";
import { canvasPng, el, theme, type Ctx, type View } from "./common";

export class TextView implements View {
  readonly el = el("div", "lp-text");
  private shown = "";

  constructor(private readonly ctx: Ctx, private readonly win: string) {}

  update(wins: WindowState[]): void {
    const key = JSON.stringify(wins.map((w) => [w.env, w.version]));
    if (key === this.shown) return;
    this.shown = key;
    const multi = wins.length > 1;
    this.el.replaceChildren(
      ...wins.map((w) => {
        const sec = el("section", "lp-md");
        if (multi) sec.append(el("h6", "lp-text-env", w.env));
        const body = el("div");
        body.append(renderMarkdown(w.text)); // sanitized nodes (see markdown.ts)
        sec.append(body);
        return sec;
      }),
    );
    this.ctx.drew(this.win);
  }

  resize(): void {}

  /** A plain-text rendering of the window as an image (the markdown's text). */
  png(): Promise<Blob | null> {
    const th = theme();
    const lines = (this.el.innerText || "").split("\n").slice(0, 200);
    const c = document.createElement("canvas");
    c.width = Math.max(200, this.el.clientWidth);
    c.height = 16 * lines.length + 12;
    const g = c.getContext("2d")!;
    g.fillStyle = th.bg;
    g.fillRect(0, 0, c.width, c.height);
    g.fillStyle = th.fg;
    g.font = "13px system-ui, sans-serif";
    lines.forEach((l, i) => g.fillText(l, 6, 18 + i * 16));
    return canvasPng([c], th.bg);
  }

  destroy(): void {}
}
