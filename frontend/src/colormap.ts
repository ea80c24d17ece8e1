// Colormaps for heatmaps and histogram distributions: a few anchor colours,
// linearly interpolated into a 256-entry table. No DOM.

const ANCHORS: Record<string, string[]> = {
  viridis: ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"],
  magma: ["#000004", "#180f3d", "#440f76", "#721f81", "#9e2f7f", "#cd4071", "#f1605d", "#fd9668", "#feca8d", "#fcfdbf"],
  inferno: ["#000004", "#1b0c41", "#4a0c6b", "#781c6d", "#a52c60", "#cf4446", "#ed6925", "#fb9b06", "#f7d13d", "#fcffa4"],
  plasma: ["#0d0887", "#46039f", "#7201a8", "#9c179e", "#bd3786", "#d8576b", "#ed7953", "#fb9f3a", "#fdca26", "#f0f921"],
  gray: ["#000000", "#ffffff"],
  greys: ["#ffffff", "#000000"],
  blues: ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"],
  rdbu: ["#67001f", "#d6604d", "#f7f7f7", "#4393c3", "#053061"],
  coolwarm: ["#3b4cc0", "#7b9ff9", "#c0d4f5", "#f2cbb7", "#ee8468", "#b40426"],
};

export const COLORMAPS = Object.keys(ANCHORS);

function rgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const cache = new Map<string, Uint8Array>();

/** 256 RGB triples for a colormap name (viridis when unknown). */
export function table(name: string | undefined): Uint8Array {
  const key = name && ANCHORS[name.toLowerCase()] ? name.toLowerCase() : "viridis";
  let t = cache.get(key);
  if (t) return t;
  const stops = ANCHORS[key].map(rgb);
  t = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const p = (i / 255) * (stops.length - 1);
    const a = Math.min(Math.floor(p), stops.length - 2);
    const f = p - a;
    for (let c = 0; c < 3; c++) t[i * 3 + c] = Math.round(stops[a][c] * (1 - f) + stops[a + 1][c] * f);
  }
  cache.set(key, t);
  return t;
}

/** The table index (0..255) of v in [lo, hi]; -1 for non-finite values. */
export function index(v: number, lo: number, hi: number): number {
  if (!Number.isFinite(v)) return -1;
  if (!(hi > lo)) return 128;
  return Math.max(0, Math.min(255, Math.round(((v - lo) / (hi - lo)) * 255)));
}

/** A CSS colour for v. */
export function css(name: string | undefined, v: number, lo: number, hi: number): string {
  const i = index(v, lo, hi);
  if (i < 0) return "transparent";
  const t = table(name);
  return `rgb(${t[i * 3]},${t[i * 3 + 1]},${t[i * 3 + 2]})`;
}
