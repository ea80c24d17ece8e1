// Events from the page to the training process (docs/protocol.md, "Events"): a click on a window (with
// what the view finds under the pointer: data coordinates, the nearest point and its trace), a key pressed
// in a focused window (a window frame takes focus when clicked), and an edit of a properties pane. They go
// over the page's socket; the server checks and rate-limits them and answers a refusal with an error.

import type { View } from "./views/common";

/** What a view finds at a point of the page: data coordinates and the nearest drawn point, if near. */
export interface Pick {
  /** the env the point belongs to ("" : the window's first env) */
  env: string;
  x: number;
  y: number;
  point: { trace: string; index: number; x: number; y: number } | null;
}

type Send = (msg: Record<string, unknown>) => boolean;
let send: Send | null = null;
/** events sent, by kind (tests and benchmarks read them through window.__livepanel.events) */
export const sent = { click: 0, key: 0, edit: 0 };

/** Called once by main.ts with the page socket's send. */
export function setEventSender(fn: Send): void {
  send = fn;
}

export function sendEdit(env: string, win: string, id: number, value: unknown): void {
  if (send?.({ type: "edit", env, win, id, value })) sent.edit++;
}

/** Keys are sent when the window itself (or its chart) has focus, never while typing in one of its controls. */
const TYPING = new Set(["INPUT", "SELECT", "TEXTAREA", "BUTTON"]);
/** a press that moves farther than this (CSS px) before it is released is a drag (a zoom), not a click */
const CLICK_SLOP = 4;

/** Make a window frame focusable and send its clicks and key presses. `env` names the env of the window's
 * first state (a window shown for several envs sends a click to the env of the point picked). */
export function attachEvents(frame: HTMLElement, body: HTMLElement, view: View, win: string, env: () => string | undefined): void {
  frame.tabIndex = 0;
  let down: { x: number; y: number } | null = null;
  body.addEventListener("pointerdown", (ev) => {
    down = { x: ev.clientX, y: ev.clientY };
  });
  body.addEventListener("click", (ev) => {
    const target = ev.target as HTMLElement | null;
    if (target && TYPING.has(target.tagName)) return;
    if (down && Math.hypot(ev.clientX - down.x, ev.clientY - down.y) > CLICK_SLOP) return;
    if (document.activeElement !== frame && !frame.contains(document.activeElement)) frame.focus({ preventScroll: true });
    const picked = view.pick?.(ev.clientX, ev.clientY) ?? null;
    const to = picked?.env || env();
    if (!to) return;
    const msg = { type: "event", env: to, win, event: "click", x: picked ? picked.x : null, y: picked ? picked.y : null, point: picked?.point ?? null };
    if (send?.(msg)) sent.click++;
  });
  frame.addEventListener("keydown", (ev) => {
    const target = ev.target as HTMLElement | null;
    if (target && TYPING.has(target.tagName)) return;
    if (ev.repeat || ev.key.length > 32) return;
    const to = env();
    if (!to) return;
    const msg = { type: "event", env: to, win, event: "key", key: ev.key, code: ev.code.slice(0, 32), key_code: ev.keyCode || 0, alt: ev.altKey, ctrl: ev.ctrlKey, shift: ev.shiftKey, meta: ev.metaKey };
    if (send?.(msg)) sent.key++;
  });
}
