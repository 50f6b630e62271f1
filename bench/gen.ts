// Writes test files of random Post-like IDs (no side effects on import).
import { open } from "node:fs/promises";

/** splitmix32-style PRNG: deterministic for a seed, returns uint32. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  };
}

/**
 * Writes `count` random IDs of 18–19 digits (like Post IDs), one per line with LF, to
 * `path` (replacing it). The same seed gives the same file. Returns the bytes written.
 */
export async function writeIdFile(path: string, count: number, seed = 1): Promise<number> {
  const next = prng(seed);
  const fh = await open(path, "w", 0o600);
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let n = 0;
  let total = 0;
  try {
    for (let k = 0; k < count; k++) {
      if (n > buf.length - 32) {
        await fh.write(buf.subarray(0, n));
        total += n;
        n = 0;
      }
      const digits = next() & 1 ? 19 : 18;
      buf[n++] = 49 + (next() % 9); // no leading zero
      // the rest: two 9-digit blocks, plus one more digit for 19
      let rest = digits - 1;
      while (rest > 0) {
        let block = next() % 1_000_000_000;
        const len = Math.min(rest, 9);
        for (let d = len - 1; d >= 0; d--) {
          buf[n + d] = 48 + (block % 10);
          block = Math.floor(block / 10);
        }
        n += len;
        rest -= len;
      }
      buf[n++] = 10;
    }
    await fh.write(buf.subarray(0, n));
    total += n;
  } finally {
    await fh.close();
  }
  return total;
}
