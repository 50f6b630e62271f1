import { Chalk, type ChalkInstance } from "chalk";
import type { Ora } from "ora";
import { forTerminalLines } from "./escape.js";
import type { TerminalPolicy } from "./terminal.js";

/**
 * Everything that goes to stderr: progress, notes, warnings, debug lines. Three behaviours, chosen
 * once from the terminal policy: a spinner on a TTY; one plain timestamped line per change off a
 * TTY (cron logs), with a heartbeat while waiting; nothing but errors under --quiet.
 */
export interface Log {
  readonly paint: ChalkInstance;
  readonly fancy: boolean;
  /** A milestone ("job 146… is in_progress"): always shown unless --quiet. */
  info(message: string): void;
  /**
   * A one-off remark (e.g. which API is used): shown unless --quiet (or always, with `evenIfQuiet`
   * for a safety notice), like info, but it does not end the current activity, so the next
   * progress line is not held back by it.
   */
  note(message: string, opts?: { evenIfQuiet?: boolean }): void;
  warn(message: string): void;
  debug(message: string): void;
  /**
   * A frequently updated status (bytes uploaded, waiting): spinner text, or a throttled line. Pass
   * a function for text that is costly to build per call (per transferred chunk): it is called
   * only when the text is shown (off a TTY at the heartbeat; on one at most every 50 ms).
   */
  progress(message: string | (() => string)): void;
  /** Ends any spinner, leaving the last milestone visible. */
  done(): void;
}

export interface LogOptions {
  policy: TerminalPolicy;
  stderr: NodeJS.WritableStream;
  /** Off a TTY, repeat a progress line at most this often (ms); default 60 s. */
  heartbeatMs?: number;
  now?: () => number;
}

/** On a TTY, the least time between two computed progress texts (a spinner frame is 80 ms). */
const SPINNER_TEXT_MS = 50;

export function createLog(opts: LogOptions): Log {
  const { policy, stderr } = opts;
  const now = opts.now ?? Date.now;
  const paint = new Chalk({ level: policy.fancy ? 1 : 0 });
  // A terminal that reports no width (a pty opened without a size, as some CI runners and
  // \`script\` do) gets plain lines: a spinner there redraws without end and the run stalls.
  const columns = (stderr as { columns?: number }).columns;
  const spin = policy.fancy && typeof columns === "number" && columns > 0;
  const heartbeatMs = opts.heartbeatMs ?? 60_000;
  let spinner: Ora | undefined;
  let spinnerLoading: Promise<void> | undefined;
  let pendingText: string | undefined;
  let lastProgressAt = 0;
  let lastSpinnerTextAt = -Infinity;
  // A lazy text that came too soon after the last one: shown when its time comes, so the last
  // update of a transfer (100 %) is never lost to the throttle.
  let throttled: (() => string) | undefined;
  let trailing: ReturnType<typeof setTimeout> | undefined;
  const resetThrottle = () => {
    throttled = undefined;
    if (trailing !== undefined) clearTimeout(trailing);
    trailing = undefined;
    lastSpinnerTextAt = -Infinity;
  };

  const stamp = () => (policy.fancy ? "" : `${new Date(now()).toISOString().replace(/\.\d+Z$/, "Z")} `);
  // Messages carry values from the API: control characters in them are shown, never obeyed.
  const line = (text: string) => {
    if (spinner?.isSpinning) spinner.clear();
    stderr.write(`${stamp()}${text}\n`);
    if (spinner?.isSpinning) spinner.render();
  };

  const startSpinner = (raw: string) => {
    const text = forTerminalLines(raw);
    pendingText = text;
    if (spinner) {
      spinner.text = text;
      if (!spinner.isSpinning) spinner.start();
      return;
    }
    // ora is loaded only when a spinner is really shown, keeping start-up fast.
    spinnerLoading ??= import("ora").then(({ default: ora }) => {
      spinner = ora({ text: pendingText ?? "", stream: stderr, discardStdin: false });
      if (pendingText !== undefined) spinner.start();
    });
  };

  return {
    paint,
    fancy: policy.fancy,
    info(message) {
      if (policy.quiet) return;
      lastProgressAt = now();
      // A milestone ends the current activity: the spinner restarts with the next progress text.
      pendingText = undefined;
      resetThrottle();
      if (spinner?.isSpinning) spinner.stop();
      line(forTerminalLines(message));
    },
    note(message, o) {
      if (policy.quiet && !o?.evenIfQuiet) return;
      line(forTerminalLines(message));
    },
    warn(message) {
      if (policy.quiet) return;
      line(`${paint.yellow("warning:")} ${forTerminalLines(message)}`);
    },
    debug(message) {
      if (!policy.verbose) return;
      line(paint.dim(`debug: ${forTerminalLines(message)}`));
    },
    progress(message) {
      if (policy.quiet) return;
      const t = now();
      if (spin) {
        if (typeof message === "function" && t - lastSpinnerTextAt < SPINNER_TEXT_MS) {
          throttled = message;
          if (trailing === undefined) {
            trailing = setTimeout(() => {
              trailing = undefined;
              const text = throttled;
              throttled = undefined;
              if (text === undefined) return;
              lastSpinnerTextAt = now();
              startSpinner(text());
            }, SPINNER_TEXT_MS);
            trailing.unref?.();
          }
          return;
        }
        throttled = undefined;
        lastSpinnerTextAt = t;
        return startSpinner(typeof message === "function" ? message() : message);
      }
      if (t - lastProgressAt < heartbeatMs) return;
      lastProgressAt = t;
      line(forTerminalLines(typeof message === "function" ? message() : message));
    },
    done() {
      pendingText = undefined;
      resetThrottle();
      if (spinner?.isSpinning) spinner.stop();
    },
  };
}

/**
 * Several activities at once (sync's tweets and users jobs): each gets a Log whose lines carry
 * its label, and whose progress text shares one status line with the others'
 * ("tweets: … · users: …"). Ending one activity's progress leaves the others' shown.
 */
export function sharedProgress(log: Log): (label: string) => Log {
  const slots = new Map<string, string | (() => string)>();
  const text = () =>
    [...slots.entries()].map(([label, m]) => `${label}: ${typeof m === "function" ? m() : m}`).join(" · ");
  const show = () => {
    if (slots.size > 0) log.progress(text);
  };
  return (label) => ({
    paint: log.paint,
    fancy: log.fancy,
    info(message) {
      log.info(`${label}: ${message}`);
      show();
    },
    note(message, opts) {
      log.note(`${label}: ${message}`, opts);
    },
    warn(message) {
      log.warn(`${label}: ${message}`);
    },
    debug(message) {
      log.debug(`${label}: ${message}`);
    },
    progress(message) {
      slots.set(label, message);
      show();
    },
    done() {
      slots.delete(label);
      if (slots.size === 0) log.done();
      else show();
    },
  });
}
