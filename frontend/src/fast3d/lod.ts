// Level of detail while the camera moves, shared by the two WebGL point renderers of static/fast3d.js (the
// embedding window's fast3d/points.ts and the plotly windows' scatter3d in fast3d/index.ts).
// Software WebGL (SwiftShader, where headless Chromium without a GPU draws) costs about 0.3-0.5 us per point
// whatever the shader (measured: benchmarks/bench_embedding.py), so 100,000 points take 30-60 ms a frame there.
// So a renderer keeps a large point cloud on the GPU in a fixed random order (its first m points are then a
// uniform sample, drawn with a plain draw range: an index buffer costs software WebGL more), and while the
// camera moves and frames come slower than FRAME_MS it draws only the first m (m adapted to the measured
// frame interval, never under MIN_MOVING); every point again SETTLE_MS after the last move. A GPU keeps up
// with every point, so there m stays n.

export const FRAME_MS = 33; // a frame interval above this while moving: draw fewer points
export const MIN_MOVING = 20000; // clouds of at most this many points are always drawn whole
export const SETTLE_MS = 150;

/** A fixed random order of 0..n-1 (a subset of its first m is a uniform sample). */
export function shuffled(n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  // mulberry32, seeded: the same order every time (a float product like seed * 1103515245 passes 2^53 and
  // loses the low bits that `% (i + 1)` uses, which skewed the sample toward the first points)
  let a = 12345;
  for (let i = n - 1; i > 0; i--) {
    a = (a + 0x6d2b79f5) | 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    const j = Math.floor((((r ^ (r >>> 14)) >>> 0) / 4294967296) * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** Triples of `src` (in the points' order) in `order`'s (GPU slot k holds point order[k]), into `out`
 * when it fits. */
export function permuted<T extends Float32Array | Uint8Array>(src: T, order: Uint32Array, out: T | null = null): T {
  const dst = (out && out.length === src.length && out !== src ? out : new (src.constructor as { new (n: number): T })(src.length)) as T;
  for (let k = 0; k < order.length; k++) {
    const i = order[k] * 3;
    dst[k * 3] = src[i];
    dst[k * 3 + 1] = src[i + 1];
    dst[k * 3 + 2] = src[i + 2];
  }
  return dst;
}

/** How many of a cloud's points to draw: all at rest, fewer while the camera moves on slow WebGL. */
export class MovingDetail {
  /** the frame interval above which fewer points are drawn (tests set it low to see the subset anywhere) */
  frameMs = FRAME_MS;
  private moving = 0; // points drawn in moving frames (0: every point)
  private lastFrame = 0;
  private interval = 0; // smoothed frame interval while moving, ms
  private settle: ReturnType<typeof setTimeout> | undefined;

  /** `redraw` asks for a frame (when the camera has stopped and every point should be drawn again). */
  constructor(private readonly redraw: () => void) {}

  /** A camera move over a cloud of n points: fewer when frames come slower than FRAME_MS, more when
   * faster; every point again SETTLE_MS after the last move. */
  moved(n: number): void {
    if (n <= MIN_MOVING) return;
    const now = performance.now();
    const dt = now - this.lastFrame;
    if (this.lastFrame && dt < 500) {
      this.interval = this.interval ? this.interval * 0.6 + dt * 0.4 : dt;
      const current = this.moving || n;
      if (this.interval > this.frameMs) this.moving = Math.max(MIN_MOVING, Math.floor(current * 0.75));
      else if (this.interval < this.frameMs * 0.6 && this.moving) this.moving = Math.min(n, Math.floor(current * 1.15));
      if (this.moving >= n) this.moving = 0;
    }
    this.lastFrame = now;
    clearTimeout(this.settle);
    this.settle = setTimeout(() => {
      this.lastFrame = 0;
      this.interval = 0;
      if (this.moving) {
        this.moving = 0;
        this.redraw();
      }
    }, SETTLE_MS);
  }

  /** Points of a cloud of n to draw now. */
  count(n: number): number {
    return this.moving && this.moving < n ? this.moving : n;
  }

  /** Every point from the next frame on (new data). */
  reset(): void {
    this.moving = 0;
  }

  destroy(): void {
    clearTimeout(this.settle);
  }
}
