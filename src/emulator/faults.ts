// Fault injection: a queue of faults a test arms, matched against each request as it arrives,
// and how a matched fault changes the request (an immediate answer, or a stall/cut/drop that the
// response writers and body readers honour).

import type { OutgoingHttpHeaders } from "node:http";
import { genericProblem, problems, xmlErrorForStatus } from "./problems.js";
import { JSON_TYPE, PROBLEM_TYPE, XML_TYPE, send, sendJson, type Ctx } from "./http-util.js";
import type { RateLimiter } from "./rate-limit.js";
import type { Fault, FaultAction, FaultMatch, RouteKind } from "./types.js";

interface QueuedFault {
  match: FaultMatch;
  times: number;
  every?: number;
  action: FaultAction;
  seen: number;
  applied: number;
}

export class FaultQueue {
  private readonly faults: QueuedFault[] = [];

  add(f: Fault): void {
    const times = f.times ?? (f.every !== undefined ? Number.POSITIVE_INFINITY : 1);
    const q: QueuedFault = { match: { ...f.match }, times, action: f.action, seen: 0, applied: 0 };
    if (f.every !== undefined) q.every = Math.max(1, Math.floor(f.every));
    this.faults.push(q);
  }

  clear(): void {
    this.faults.length = 0;
  }

  /**
   * The action for this request, if an armed fault applies. Every matching fault counts the
   * request (for `every`); the first one still due is applied and dropped once used up.
   */
  take(origin: "api" | "storage", route: RouteKind, method: string): FaultAction | undefined {
    let chosen: QueuedFault | undefined;
    for (const f of this.faults) {
      if (f.match.origin !== undefined && f.match.origin !== origin) continue;
      if (f.match.route !== undefined && f.match.route !== route) continue;
      if (f.match.method !== undefined && f.match.method.toUpperCase() !== method) continue;
      f.seen++;
      if (chosen !== undefined || f.applied >= f.times) continue;
      if (f.every !== undefined ? f.seen % f.every === 0 : true) chosen = f;
    }
    if (chosen === undefined) return undefined;
    chosen.applied++;
    if (chosen.applied >= chosen.times) this.faults.splice(this.faults.indexOf(chosen), 1);
    return chosen.action;
  }
}

/**
 * Applies `action` to the request. Resolves to true when the fault answered the request itself
 * (a response or a connection reset), false when it only marked `ctx` (stall, cut-body,
 * drop-upload) and the request goes on to its route.
 */
export async function applyFault(ctx: Ctx, action: FaultAction, rate: RateLimiter): Promise<boolean> {
  switch (action.type) {
    case "reset":
      ctx.req.socket.destroy();
      return true;
    case "status": {
      const headers: OutgoingHttpHeaders = { ...action.headers };
      const storage = ctx.origin === "storage";
      let body: string;
      if (action.body === undefined) {
        body = storage ? xmlErrorForStatus(action.status) : JSON.stringify(genericProblem(action.status));
        headers["content-type"] ??= storage ? XML_TYPE : PROBLEM_TYPE;
      } else if (typeof action.body === "string") {
        body = action.body;
        headers["content-type"] ??= storage ? XML_TYPE : PROBLEM_TYPE;
      } else {
        body = JSON.stringify(action.body);
        headers["content-type"] ??= action.status >= 400 ? PROBLEM_TYPE : JSON_TYPE;
      }
      await send(ctx, action.status, headers, body);
      return true;
    }
    case "rate-limit":
      ctx.rl = rate.exhausted(action.resetInSeconds);
      await sendJson(ctx, 429, problems.tooManyRequests);
      return true;
    case "usage-cap":
      await sendJson(ctx, 429, problems.usageCapped);
      return true;
    case "stall":
      ctx.stall = action.ms;
      return false;
    case "cut-body":
      ctx.cut = action.afterBytes;
      return false;
    case "drop-upload":
      ctx.drop = action.afterBytes;
      return false;
  }
}
