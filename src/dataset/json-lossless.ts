// JSON.parse turns integers above 2^53 into the nearest double, and v1.1 Posts carry their IDs as
// bare numbers (`"id": 1160164553482756096`) beside `id_str`. A record that `apply` rewrites must
// keep them exact, so large integer literals are carried through parse/stringify as marked
// strings. Node 20's JSON.parse has no access to source text, hence this small scanner.

/** Prefix of the marked strings parseLossless puts in place of large integers (idOf in record-shape.ts reads them). */
export const MARK = "\uE000#";
const MARKED = /"\uE000#(-?\d+)"/g;
const MAYBE_BIG = /[:,[]\s*-?\d{16}/;

/** Parses a JSON text, keeping integer literals of 16 or more digits exact. */
export function parseLossless(text: string): unknown {
  if (text.includes("\uE000")) return JSON.parse(text); // never seen in real data; the marker would be ambiguous
  // Fast exit (most lines): no 16-digit run after a JSON value separator, so nothing to protect.
  if (!MAYBE_BIG.test(text)) return JSON.parse(text);
  let out: string[] | undefined;
  let last = 0;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // skip a string, honouring escapes
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92) i += 2;
        else if (d === 34) break;
        else i++;
      }
      i++;
      continue;
    }
    if ((c >= 48 && c <= 57) || c === 45) {
      let j = c === 45 ? i + 1 : i;
      const digitsStart = j;
      while (j < n && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
      const next = j < n ? text.charCodeAt(j) : 0;
      const isInteger = next !== 46 && next !== 101 && next !== 69; // no fraction or exponent
      if (isInteger && j - digitsStart >= 16) {
        out ??= [];
        out.push(text.slice(last, i), `"${MARK}${text.slice(i, j)}"`);
        last = j;
      }
      // skip the rest of the number token
      while (j < n) {
        const d = text.charCodeAt(j);
        if ((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45) j++;
        else break;
      }
      i = j;
      continue;
    }
    i++;
  }
  if (!out) return JSON.parse(text);
  out.push(text.slice(last));
  return JSON.parse(out.join(""));
}

/** JSON.stringify that writes the integers kept by parseLossless back as bare numbers. */
export function stringifyLossless(value: unknown): string {
  const s = JSON.stringify(value);
  return s.includes(MARK) ? s.replace(MARKED, "$1") : s;
}
