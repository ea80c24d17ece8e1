// The markdown policy's pure parts (node has no DOM: what DOMPurify keeps is
// checked in a real browser by tests/browser/test_markdown_safety.py).
import assert from "node:assert/strict";
import { test } from "node:test";
import { FORBID_ATTR, FORBID_TAGS, imageAllowed, markdownHtml, renderMarkdown } from "../src/markdown";

const PAGE = "http://127.0.0.1:8097/";
const BASED = "https://lab.example/panel/?env=a";

test("images: the server's own and data: images load, nothing else", () => {
  for (const src of ["api/v1/image?env=a&win=b", "/api/v1/image?env=a", "./x.png", "http://127.0.0.1:8097/x.png", "data:image/png;base64,iVBORw0KGgo=", " DATA:image/webp;base64,AAAA"]) {
    assert.ok(imageAllowed(src, PAGE), src);
  }
  for (const src of ["http://127.0.0.2:9/x.png", "http://127.0.0.1:9/x.png", "https://127.0.0.1:8097/x.png", "//127.0.0.2/x.png", "http://localhost:8097/x.png", "javascript:alert(1)", "data:text/html,<b>", "blob:http://127.0.0.1:8097/u", "file:///etc/passwd", "ftp://127.0.0.1:8097/x", "http://[::1"]) {
    assert.ok(!imageAllowed(src, PAGE), src);
  }
  // under --base-url: relative to the page, same origin
  assert.ok(imageAllowed("api/v1/image?env=a", BASED));
  assert.ok(imageAllowed("/elsewhere/on/the/same/host.png", BASED));
  assert.ok(!imageAllowed("http://lab.example/x.png", BASED));
});

test("the policy forbids what restyles, posts, frames or fetches", () => {
  for (const tag of ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed", "link", "meta", "base", "svg", "math", "foreignobject", "video", "audio", "picture", "source"]) {
    assert.ok(FORBID_TAGS.includes(tag), tag);
  }
  for (const attr of ["style", "class", "srcset", "background", "poster", "action", "formaction", "ping", "popover"]) {
    assert.ok(FORBID_ATTR.includes(attr), attr);
  }
});

test("marked: GFM tables, code and task lists without an <input>", () => {
  const html = markdownHtml("**b** `c`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n");
  assert.match(html, /<strong>b<\/strong>/);
  assert.match(html, /<code>c<\/code>/);
  assert.match(html, /<table>/);
  assert.match(html, /☑ done/);
  assert.match(html, /☐ todo/);
  assert.doesNotMatch(html, /<input/);
});

test("without a DOM, rendering fails instead of passing HTML through", () => {
  assert.throws(() => renderMarkdown("<style>body{display:none}</style>"), /DOM/);
});
