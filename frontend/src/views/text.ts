// Text windows: markdown rendered by `marked`, then sanitized by DOMPurify
// (markdown.ts) before it touches the DOM. Several envs: one section per env.

import { renderMarkdown } from "../markdown";
import type { WindowState } from "../state";
import { el, Shown, textPng, type Ctx, type View } from "./common";

export class TextView implements View {
  readonly el = el("div", "lp-text");
  private shown = new Shown();

  constructor(private readonly ctx: Ctx, private readonly win: string) {}

  update(wins: WindowState[]): void {
    if (!this.shown.changed(wins)) return;
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
    return textPng((this.el.innerText || "").split("\n").slice(0, 200), this.el.clientWidth, 16);
  }

  destroy(): void {}
}
