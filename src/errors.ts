// The exit-code table is an interface: cron wrappers and scripts branch on it.
// README.md and `compliant --help` document the same table.
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  auth: 3,
  refused: 4,
  transient: 5,
  jobFailed: 6,
  timeout: 7,
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_HELP = `Exit codes:
  0    success
  1    internal error (a bug; please report it)
  2    usage error or invalid input (bad flags, missing token, unreadable or invalid ID file)
  3    the API refused the credentials (401/403)
  4    the API refused the request (other 4xx, e.g. an active job already exists)
  5    transient failure that remained after retries (network, 5xx, rate limit): run again later
  6    the job ended failed or expired
  7    --timeout reached while waiting
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`;

/** An error meant for a person: `message` says what went wrong and what to do. */
export class CliError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(message: string, exitCode: ExitCodeValue, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad flags, arguments or input files: exit 2. */
export class UsageError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** The job ended `failed` or `expired`: exit 6. */
export class JobEndedError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.jobFailed);
  }
}

/** `--timeout` ran out while waiting: exit 7. */
export class TimeoutError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.timeout);
  }
}

/** The run was interrupted by a signal: exit 130 or 143. */
export class InterruptedError extends CliError {
  readonly signal: "SIGINT" | "SIGTERM";
  constructor(signal: "SIGINT" | "SIGTERM", message = `interrupted by ${signal}`) {
    super(message, signal === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm);
    this.signal = signal;
  }
}
