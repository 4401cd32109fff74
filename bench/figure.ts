/** One figure of `npm run bench:all`: what was measured, against which target, and whether it is met. */
export interface Figure {
  id: string;
  name: string;
  /** The headline value, with its unit (e.g. "1.07", "23.4 s", "p99 4.1 ms"). */
  value: string;
  target: string;
  met: boolean;
  /** Absolute figures behind the headline (one line each). */
  details: string[];
}
