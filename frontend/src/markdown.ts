// Markdown for text windows: `marked` turns the text into HTML, then a
// DOMPurify instance of our own (its hooks touch nothing else) keeps only what
// stays inside the window and loads nothing from elsewhere:
// - no style, form controls, frames, plugins, media, svg/math, templates,
//   dialogs or popovers; no style or class attributes (no CSS gets in or out);
// - images only from the server itself (same origin) or `data:` images; no
//   srcset, background or poster attributes;
// - links keep their href (DOMPurify drops javascript: and the like) and open
//   in a new tab with rel="noopener noreferrer".
// The result is a DocumentFragment: it is appended as nodes, never re-parsed.

import createDOMPurify, { type Config, type DOMPurify } from "dompurify";
import { Marked } from "marked";

const md = new Marked({
  async: false,
  gfm: true,
  breaks: false,
  renderer: {
    // GFM task lists as text, so no <input> is needed
    checkbox({ checked }) {
      return checked ? "☑ " : "☐ ";
    },
  },
});

/** The HTML `marked` makes of the text (not yet sanitized: never put it into the page as such). */
export function markdownHtml(text: string): string {
  return md.parse(text) as string;
}

export const FORBID_TAGS = [
  "style", "link", "meta", "base", "script", "noscript", "template", "slot", "content", "shadow", "element", "decorator",
  "form", "input", "button", "textarea", "select", "option", "optgroup", "datalist", "output", "fieldset", "label",
  "iframe", "frame", "frameset", "object", "embed", "applet", "portal",
  "audio", "video", "source", "track", "picture", "canvas",
  "svg", "math", "foreignobject",
  "dialog", "marquee", "blink",
];

export const FORBID_ATTR = [
  "style", "class", "srcset", "sizes", "background", "poster", "action", "formaction", "method", "enctype", "ping",
  "popover", "popovertarget", "popovertargetaction", "command", "commandfor", "nonce", "integrity", "crossorigin",
  "part", "exportparts", "slot", "autofocus", "inert",
];

const CONFIG: Config = {
  USE_PROFILES: { html: true },
  FORBID_TAGS,
  FORBID_ATTR,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: true,
};

/** Whether an image at `src` may load in a page at `page`: same origin over http(s), or a data: image. */
export function imageAllowed(src: string, page: string): boolean {
  const s = src.trim();
  if (/^data:image\/[a-z0-9.+-]+[;,]/i.test(s)) return true;
  let u: URL;
  let p: URL;
  try {
    u = new URL(s, page);
    p = new URL(page);
  } catch {
    return false;
  }
  return (u.protocol === "http:" || u.protocol === "https:") && u.origin === p.origin;
}

function afterAttributes(node: Element): void {
  if (node.nodeType !== Node.ELEMENT_NODE) return;
  if (node.hasAttribute("src") && !imageAllowed(node.getAttribute("src") ?? "", document.baseURI)) node.removeAttribute("src");
  const tag = node.nodeName.toLowerCase();
  if ((tag === "a" || tag === "area") && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
}

let purifier: DOMPurify | null = null;

function purify(): DOMPurify {
  if (purifier === null) {
    const p = createDOMPurify(); // an instance of our own, over this window
    // fail closed: without a DOM, DOMPurify would hand its input back unchanged
    if (!p.isSupported) throw new Error("markdown: DOMPurify needs a browser DOM");
    p.addHook("afterSanitizeAttributes", afterAttributes);
    purifier = p;
  }
  return purifier;
}

/** Markdown rendered and sanitized, as nodes ready to append. */
export function renderMarkdown(text: string): DocumentFragment {
  return purify().sanitize(markdownHtml(text), { ...CONFIG, RETURN_DOM_FRAGMENT: true });
}
