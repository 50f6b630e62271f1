// The exit-code table is an interface: cron wrappers and scripts branch on it.
// README.md and `compliant --help` document the same table.
export const ExitCode = {
  ok: 0,
  internal: 1,
  /** `compliant history`: the newest sync is older than --max-age (or there is none), for monitoring. */
  stale: 1,
  usage: 2,
  auth: 3,
  refused: 4,
  transient: 5,
  jobFailed: 6,
  timeout: 7,
  sigint: 130,
  /** stdout's reader went away (EPIPE), as a shell reports a process killed by SIGPIPE. */
  brokenPipe: 141,
  sigterm: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_HELP = `Exit codes:
  0    success
  1    internal error (a bug; please report it); for \`history\`: the last sync is older than
       --max-age, or none is recorded (a monitoring job's alert)
  2    usage error or invalid input (bad flags, missing or malformed token, unreadable or invalid
       ID file, a path the system refuses)
  3    the API refused the credentials (401/403)
  4    the API refused the request (other 4xx, e.g. an active job already exists)
  5    transient failure that remained after retries (network, 5xx, rate limit), or a full
       disk: run again later
  6    the job ended failed or expired
  7    --timeout reached while waiting
  130  interrupted (SIGINT)
  141  stdout was closed by its reader (e.g. \`| head\`); \`all\` keeps its state and resumes
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

/**
 * stdout's reader went away (EPIPE, e.g. `compliant download J - | head -1`): exit 141. The run's
 * controller is aborted with it, so every request stops and `finally` blocks release their locks.
 */
export class BrokenPipeError extends CliError {
  constructor() {
    super("stopped because the reader of stdout went away (broken pipe); nothing more was written.", ExitCode.brokenPipe);
  }
}

const TRANSIENT_ERRNO: Record<string, string> = {
  ENOSPC: "the disk is full (ENOSPC); free some space",
  EDQUOT: "the disk quota is used up (EDQUOT); free some space or raise the quota",
  EMFILE: "this process has too many open files (EMFILE); raise the limit (ulimit -n) or close other programs",
  ENFILE: "the system has too many open files (ENFILE); close other programs",
  EIO: "an input/output error occurred (EIO); check the disk",
  EBUSY: "the file is busy (EBUSY); wait for whatever holds it",
  EAGAIN: "the resource is temporarily unavailable (EAGAIN); wait a moment",
  ENOMEM: "the system is out of memory (ENOMEM); free some memory",
  EPIPE: "the program reading it stopped reading (EPIPE); start a reader that reads to the end",
};

const USAGE_ERRNO: Record<string, string> = {
  EACCES: "permission denied (EACCES); check the permissions of the file and its folder, or choose another path",
  EPERM: "the operation is not permitted (EPERM); check the permissions of the file and its folder, or choose another path",
  EROFS: "the file system is read-only (EROFS); choose a path on a writable file system",
  ENOENT: "no such file or folder (ENOENT); check the path",
  ENOTDIR: "a part of the path is not a folder (ENOTDIR); check the path",
  EISDIR: "it is a folder (EISDIR); give a file name",
  EEXIST: "it already exists (EEXIST); remove it or choose another path",
  ELOOP: "it is a symbolic link, or has too many of them (ELOOP); give the real path",
  ENAMETOOLONG: "the path is too long (ENAMETOOLONG); choose a shorter one",
  EXDEV: "it would cross file systems (EXDEV); keep the file in one folder",
  EINVAL: "the file does not support this (EINVAL); choose a regular file on an ordinary file system",
  ENXIO: "the file does not support this (ENXIO); choose a regular file",
  ENODEV: "the file does not support this (ENODEV); choose a regular file",
  EOPNOTSUPP: "the file system does not support this (EOPNOTSUPP); choose another path",
  ENOTSUP: "the file system does not support this (ENOTSUP); choose another path",
  ETXTBSY: "the file is in use (ETXTBSY); choose another path",
  EFBIG: "the file is too large for this file system (EFBIG); choose another path",
};

const VERBS: Record<string, string> = {
  open: "open",
  read: "read",
  write: "write to",
  writev: "write to",
  fsync: "write to",
  fdatasync: "write to",
  ftruncate: "write to",
  close: "write to",
  rename: "rename",
  mkdir: "create the folder",
  mkdtemp: "create a folder in",
  rmdir: "remove",
  unlink: "remove",
  stat: "check",
  lstat: "check",
  fstat: "check",
  access: "check",
  scandir: "list",
  link: "link",
  symlink: "link",
  copyfile: "copy",
  chmod: "change",
  fchmod: "change",
  realpath: "resolve",
};

/**
 * A file-system failure (an error with an errno code and a syscall) as a sentence that names the
 * path and says what to do: a full disk or too many open files is transient (exit 5), a refused
 * or unusable path is a usage error (exit 2). `resumes` adds that the same command resumes.
 * Returns undefined for anything else, and for codes it does not know (those stay bugs).
 */
export function systemError(err: unknown, opts: { where?: string; resumes?: boolean } = {}): CliError | undefined {
  const e = err as NodeJS.ErrnoException & { dest?: string };
  if (e === null || typeof e !== "object" || typeof e.code !== "string" || typeof e.syscall !== "string") return undefined;
  const transient = TRANSIENT_ERRNO[e.code];
  const usage = USAGE_ERRNO[e.code];
  if (!transient && !usage) return undefined;
  const verb = VERBS[e.syscall] ?? e.syscall;
  const where = opts.where ?? (e.path ? (e.dest ? `${e.path} to ${e.dest}` : e.path) : "a file");
  const again = transient ? ", then run again" : "";
  const resumes = opts.resumes ? "; the run's state is kept, so running it again resumes where it stopped" : "";
  return new CliError(`cannot ${verb} ${where}: ${transient ?? usage}${again}${resumes}.`, transient ? ExitCode.transient : ExitCode.usage, { cause: err });
}
