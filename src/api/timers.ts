import { setTimeout as sleepTimer } from "node:timers/promises";

// Node's timers hold a signed 32-bit millisecond count: a delay above 2^31-1 ms (24.8 days) is
// replaced by 1 ms with only a warning, so an unchecked long wait turns into a busy loop. Every
// wait in the client goes through these helpers, which split a long delay into legal steps.

export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Waits `ms` milliseconds (never less, however large; a non-finite `ms` waits one longest step,
 * 24.8 days); rejects when `signal` aborts.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  let left = Number.isFinite(ms) ? Math.max(0, ms) : MAX_TIMER_MS;
  do {
    const step = Math.min(left, MAX_TIMER_MS);
    await sleepTimer(step, undefined, { signal });
    left -= step;
  } while (left > 0);
}

/** A signal that aborts when `parent` does, or with `reason()` after `ms`. */
export interface Deadline {
  signal: AbortSignal;
  /** True when the time ran out (not the parent signal). */
  readonly expired: boolean;
  /** Stops the clock; the signal still follows `parent`. */
  stopClock(): void;
  /** Stops the clock and lets go of `parent`. */
  clear(): void;
}

export function deadline(ms: number, parent: AbortSignal | undefined, reason: () => Error): Deadline {
  const controller = new AbortController();
  let expired = false;
  let timer: NodeJS.Timeout | undefined;
  let left = Number.isFinite(ms) ? Math.max(0, ms) : MAX_TIMER_MS;
  const arm = (): void => {
    const step = Math.min(left, MAX_TIMER_MS);
    left -= step;
    timer = setTimeout(() => {
      if (left > 0) return arm();
      expired = true;
      controller.abort(reason());
    }, step);
    timer.unref?.();
  };
  const onParent = (): void => {
    clearTimeout(timer);
    controller.abort(parent!.reason);
  };
  if (parent?.aborted) controller.abort(parent.reason);
  else {
    parent?.addEventListener("abort", onParent, { once: true });
    arm();
  }
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    stopClock() {
      clearTimeout(timer);
    },
    clear() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
  };
}
