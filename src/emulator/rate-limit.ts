// Fixed-window request counting per endpoint, as the X API reports it in the x-rate-limit-*
// headers: `limit` requests per window, `remaining` after this one, `reset` in epoch seconds.

import type { Clock } from "./types.js";

export interface RateState {
  limit: number;
  remaining: number;
  reset: number;
}

export interface RateConfig {
  limit: number;
  windowSeconds: number;
}

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly cfg: RateConfig,
    private readonly clock: Clock,
  ) {}

  /** Counts one request against `key`'s window; `exceeded` once the window's limit is used up. */
  count(key: string): RateState & { exceeded: boolean } {
    const now = this.clock.now();
    const windowMs = this.cfg.windowSeconds * 1000;
    let w = this.windows.get(key);
    if (w === undefined || now >= w.start + windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    return {
      limit: this.cfg.limit,
      remaining: Math.max(0, this.cfg.limit - w.count),
      reset: Math.ceil((w.start + windowMs) / 1000),
      exceeded: w.count > this.cfg.limit,
    };
  }

  /** The headers of a forced 429 (a rate-limit fault) that resets `resetInSeconds` from now. */
  exhausted(resetInSeconds: number): RateState {
    return { limit: this.cfg.limit, remaining: 0, reset: Math.ceil(this.clock.now() / 1000) + resetInSeconds };
  }
}
