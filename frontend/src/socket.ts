// The websocket: connect, say what we watch (resuming from the last seq of each
// env), decode msgpack frames, and reconnect with backoff when the line drops.

import { decode, encode } from "@msgpack/msgpack";
import type { ServerMessage } from "./wire";

export type Status = "connecting" | "open" | "closed";

export interface SocketHooks {
  message(msg: ServerMessage): void;
  status(s: Status): void;
  /** called on every (re)connection, after hello: send the subscription */
  opened(): void;
}

export class Socket {
  private ws: WebSocket | null = null;
  private retry = 0;
  private timer = 0;
  private stopped = false;
  frames = 0;
  bytes = 0;
  connections = 0;

  constructor(private readonly url: string, private readonly hooks: SocketHooks) {}

  connect(): void {
    if (this.stopped) return;
    this.hooks.status("connecting");
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (!(ev.data instanceof ArrayBuffer)) return;
      this.frames++;
      this.bytes += ev.data.byteLength;
      let msg: ServerMessage;
      try {
        msg = decode(new Uint8Array(ev.data)) as ServerMessage;
      } catch (err) {
        console.error("livepanel: undecodable frame", err);
        return;
      }
      if (msg.type === "hello") {
        this.retry = 0;
        this.connections++;
        this.hooks.message(msg);
        this.hooks.status("open");
        this.hooks.opened();
        return;
      }
      this.hooks.message(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.hooks.status("closed");
      this.schedule();
    };
    ws.onerror = () => ws.close();
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = Math.min(5000, 250 * 2 ** this.retry) * (0.75 + Math.random() * 0.5);
    this.retry = Math.min(this.retry + 1, 6);
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.connect(), delay);
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(msg: Record<string, unknown>): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(encode(msg));
    return true;
  }

  /** Drop the connection now (it reconnects). */
  reconnect(): void {
    this.retry = 0;
    this.ws?.close();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }
}
