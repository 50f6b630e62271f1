/**
 * One read of a stream for several consumers (sync collects Post IDs and user IDs from the same
 * bytes). Each gets every chunk in order; a consumer more than `ahead` chunks in front of the
 * slowest waits for it, so memory stays a few chunks. A failure of the source reaches everyone.
 */
export function tee(source: AsyncIterable<Buffer>, n: number, ahead = 8): AsyncIterable<Buffer>[] {
  const it = source[Symbol.asyncIterator]();
  const held: Buffer[] = [];
  let base = 0;
  const pos = new Array<number>(n).fill(0);
  let ended = false;
  let failure: { err: unknown } | undefined;
  let pulling: Promise<void> | undefined;
  let waiters: Array<() => void> = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const trim = () => {
    const min = Math.min(...pos);
    while (base < min && held.length > 0) {
      held.shift();
      base++;
    }
  };
  const pull = (): Promise<void> =>
    (pulling ??= it.next().then(
      (r) => {
        pulling = undefined;
        if (r.done) ended = true;
        else held.push(r.value);
        wake();
      },
      (err: unknown) => {
        pulling = undefined;
        failure = { err };
        wake();
      },
    ));
  const consumer = (k: number): AsyncIterable<Buffer> => ({
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<Buffer>> {
        for (;;) {
          const i = pos[k]! - base;
          if (i < held.length) {
            const value = held[i]!;
            pos[k]!++;
            trim();
            wake();
            return { value, done: false };
          }
          if (failure) throw failure.err;
          if (ended) return { value: undefined, done: true };
          if (pos[k]! - Math.min(...pos) >= ahead) await new Promise<void>((r) => waiters.push(r));
          else await pull();
        }
      },
      async return(): Promise<IteratorResult<Buffer>> {
        // A consumer that stops early no longer holds the others back.
        pos[k] = Infinity;
        trim();
        wake();
        return { value: undefined, done: true };
      },
    }),
  });
  return Array.from({ length: n }, (_, k) => consumer(k));
}
