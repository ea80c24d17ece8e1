// Media windows (livepanel/media.py): audio and video play with the browser's
// own controls, loaded from /api/v1/media (the update message carries only the
// format and size); an SVG drawing is fetched as text and shown only after a
// DOMPurify instance of its own sanitized it:
// - no script, foreignObject, animation (animate/set can rewrite an href),
//   image, style element, or event handler attribute;
// - references only inside the drawing ("#id"): any other href, xlink:href,
//   src, or url(...) is removed, so nothing loads from elsewhere;
// - a style attribute (which the page's CSP would block anyway) becomes
//   presentation attributes (fill, stroke, ...) when its values are plain.
// The result is a DocumentFragment appended as nodes, never re-parsed.

import createDOMPurify, { type DOMPurify } from "dompurify";
import type { WindowState } from "../state";
import { canvasPng, el, theme, type Ctx, type View } from "./common";

const AUDIO = new Set(["wav", "mp3", "ogg", "flac"]);
const VIDEO = new Set(["mp4", "webm", "ogv"]);
const MAX_SVG = 4 << 20; // characters of an SVG drawing shown

export const SVG_FORBID_TAGS = [
  "script", "foreignobject", "style", "image", "feimage", "animate", "animatemotion", "animatetransform",
  "animatecolor", "set", "discard", "iframe", "object", "embed", "audio", "video", "canvas", "a",
];
const PRESENTATION = new Set([
  "fill", "stroke", "stroke-width", "stroke-dasharray", "stroke-linecap", "stroke-linejoin", "opacity",
  "fill-opacity", "stroke-opacity", "font-size", "font-family", "font-weight", "text-anchor", "display", "visibility",
]);
const PLAIN = /^[#a-z0-9 .,%()+-]{1,100}$/i;
const REFERENCE = ["href", "xlink:href", "src"];

function internal(value: string): boolean {
  return value.trim().startsWith("#");
}

function afterAttributes(node: Element): void {
  if (node.nodeType !== Node.ELEMENT_NODE) return;
  for (const name of REFERENCE) {
    const v = node.getAttribute(name);
    if (v !== null && !internal(v)) node.removeAttribute(name);
  }
  for (const attr of [...node.attributes]) {
    const v = attr.value;
    if (/^on/i.test(attr.name)) node.removeAttribute(attr.name);
    else if (/url\s*\(/i.test(v) && !/^\s*url\(\s*['"]?#[\w-]+['"]?\s*\)\s*$/i.test(v)) node.removeAttribute(attr.name);
  }
}

function uponStyle(node: Element, data: { attrName: string; attrValue: string; keepAttr: boolean }): void {
  if (data.attrName !== "style") return;
  for (const decl of data.attrValue.split(";")) {
    const i = decl.indexOf(":");
    if (i < 0) continue;
    const prop = decl.slice(0, i).trim().toLowerCase();
    const value = decl.slice(i + 1).trim();
    if (PRESENTATION.has(prop) && PLAIN.test(value) && !/url/i.test(value)) node.setAttribute(prop, value);
  }
  data.keepAttr = false;
}

let purifier: DOMPurify | null = null;

function purify(): DOMPurify {
  if (purifier === null) {
    const p = createDOMPurify();
    if (!p.isSupported) throw new Error("media: DOMPurify needs a browser DOM"); // fail closed
    p.addHook("uponSanitizeAttribute", uponStyle);
    p.addHook("afterSanitizeAttributes", afterAttributes);
    purifier = p;
  }
  return purifier;
}

/** An SVG drawing sanitized (see the top of this file), as nodes ready to append. */
export function sanitizeSvg(text: string): DocumentFragment {
  return purify().sanitize(text.slice(0, MAX_SVG), {
    USE_PROFILES: { svg: true, svgFilters: true },
    FORBID_TAGS: SVG_FORBID_TAGS,
    FORBID_ATTR: ["style", "class"],
    ALLOW_DATA_ATTR: false,
    RETURN_DOM_FRAGMENT: true,
  });
}

export class MediaView implements View {
  readonly el = el("div", "lp-media");
  private shown = "";
  private loads = 0;
  /** the format of the first env's file (the export button downloads the files themselves) */
  format = "";

  constructor(private readonly ctx: Ctx, private readonly win: string) {}

  update(wins: WindowState[]): void {
    const key = JSON.stringify(wins.map((w) => [w.env, w.seq, w.media?.format]));
    if (key === this.shown) return;
    this.shown = key;
    const load = ++this.loads;
    const multi = wins.length > 1;
    this.format = wins[0]?.media?.format ?? "";
    const pending: Promise<void>[] = [];
    this.el.replaceChildren(
      ...wins.map((w) => {
        const sec = el("section", "lp-media-env");
        if (multi) sec.append(el("h6", "lp-text-env", w.env));
        const fmt = w.media?.format ?? "";
        const src = this.ctx.api("media", { env: w.env, win: w.win, v: w.seq });
        if (AUDIO.has(fmt) || VIDEO.has(fmt)) {
          const media = document.createElement(AUDIO.has(fmt) ? "audio" : "video");
          media.controls = true;
          media.preload = "metadata";
          media.src = src;
          if (media instanceof HTMLVideoElement) media.style.maxWidth = "100%";
          sec.append(media);
        } else if (fmt === "svg") {
          const box = el("div", "lp-svg");
          sec.append(box);
          pending.push(
            fetch(src, { credentials: "same-origin" })
              .then((r) => (r.ok ? r.text() : ""))
              .then((text) => {
                if (load === this.loads) box.replaceChildren(sanitizeSvg(text));
              })
              .catch(() => undefined),
          );
        }
        return sec;
      }),
    );
    void Promise.all(pending).then(() => {
      if (load === this.loads) this.ctx.drew(this.win);
    });
  }

  resize(): void {}

  /** A drawing as PNG (the sanitized SVG, drawn through an <img>: nothing in it runs); players have none. */
  async png(): Promise<Blob | null> {
    const svg = this.el.querySelector(".lp-svg svg");
    if (!svg) return null;
    const box = svg.getBoundingClientRect();
    const url = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(svg)], { type: "image/svg+xml" }));
    try {
      const img = new Image();
      img.src = url;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = Math.max(1, Math.round(box.width));
      c.height = Math.max(1, Math.round(box.height));
      c.getContext("2d")!.drawImage(img, 0, 0, c.width, c.height);
      return await canvasPng([c], theme().bg);
    } catch {
      return null;
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  destroy(): void {
    this.loads++;
    for (const m of this.el.querySelectorAll("audio, video")) (m as HTMLMediaElement).pause();
  }
}
