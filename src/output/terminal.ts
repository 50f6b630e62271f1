import type { Env } from "../config.js";

export interface TerminalPolicy {
  /** Colour and spinners on stderr. */
  fancy: boolean;
  /** Print nothing but errors on stderr. */
  quiet: boolean;
  /** Redacted debug lines on stderr. */
  verbose: boolean;
}

/**
 * Decided once per run, as a pure function of flags, environment and TTYs: colour and spinners
 * only on a TTY, never when NO_COLOR, CI or --json is set (chalk ignores NO_COLOR, so we decide).
 */
export function terminalPolicy(
  flags: { json?: boolean; quiet?: boolean; verbose?: boolean },
  env: Env,
  stderrIsTTY: boolean,
): TerminalPolicy {
  const fancy =
    !flags.json &&
    !flags.quiet &&
    env.NO_COLOR === undefined &&
    env.CI === undefined &&
    env.TERM !== "dumb" &&
    stderrIsTTY;
  return { fancy, quiet: Boolean(flags.quiet), verbose: Boolean(flags.verbose) && !flags.quiet };
}
