// Relative time as durations: a run's "time since start" reads 2h 30m, not 9,000 s. Pure (unit-tested).

const MIN = 60;
const HOUR = 3600;
const DAY = 86400;

/** Tick steps for a duration axis, in seconds: round numbers of seconds, minutes, hours and days. */
export const DURATION_INCRS = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, MIN, 2 * MIN, 5 * MIN, 10 * MIN,
  15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY,
  60 * DAY, 120 * DAY, 365 * DAY,
];

/** `seconds` as the two largest units it has: "45s", "1.5s", "2m 30s", "1h", "3h 20m", "2d 6h". */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const sign = seconds < 0 ? "-" : "";
  let s = Math.abs(seconds);
  if (s < MIN) return `${sign}${+s.toPrecision(s < 1 ? 3 : 4)}s`;
  s = Math.round(s);
  const units: [number, string][] = [
    [DAY, "d"],
    [HOUR, "h"],
    [MIN, "m"],
    [1, "s"],
  ];
  const i = units.findIndex(([n]) => s >= n);
  const [big, bigName] = units[i];
  const [small, smallName] = units[i + 1];
  const a = Math.floor(s / big);
  const b = Math.floor((s - a * big) / small);
  return `${sign}${a}${bigName}${b ? ` ${b}${smallName}` : ""}`;
}
