// What the user reads about an ID file: the messages for a file that cannot be read or written,
// and for one whose lines are not IDs. Stable: the CLI's tests assert them.

import { UsageError } from "../errors.js";

/** Invalid lines quoted in the error message. */
export const MAX_INVALID_EXAMPLES = 5;
/** Characters of an invalid line quoted in the error message. */
export const EXAMPLE_CHARS = 40;

export const idFileMessages = {
  missing: (path: string) =>
    `cannot read the ID file ${path}: no such file; check the path, or pass - to read IDs from stdin.`,
  directory: (path: string) =>
    `cannot read the ID file ${path}: it is a directory; check the path, or pass - to read IDs from stdin.`,
  permission: (path: string) =>
    `cannot read the ID file ${path}: permission denied; check the file's permissions, or pass - to read IDs from stdin.`,
  unreadable: (path: string, reason: string) =>
    `cannot read the ID file ${path}: ${reason}; check the path, or pass - to read IDs from stdin.`,
  empty: (source: string) => `the ID file ${source} holds no IDs; put one Post or user ID per line.`,
  invalid: (source: string, count: number, examples: readonly string[]) =>
    `the ID file ${source} has ${count} invalid line${count === 1 ? "" : "s"} (${examples.join(", ")}); each line must be one Post or user ID of 1–19 digits.`,
  utf16: (source: string) =>
    `the ID file ${source} is UTF-16 encoded; save it as UTF-8 (or plain ASCII) with one Post or user ID per line.`,
  tmpDir: (dir: string, reason: string) =>
    `cannot write the normalised ID file in ${dir}: ${reason}; free some space or choose another temporary directory (TMPDIR).`,
  scratch: (dir: string, reason: string) =>
    `cannot count repeated IDs: the scratch file in ${dir} failed: ${reason}; free some space (about 8 bytes per ID) or choose another temporary directory (TMPDIR).`,
} as const;

/** `line 7: "12x"`: the trimmed line text, cut to 40 characters (the last one "…" when cut). */
export function formatInvalidExample(line: number, text: string): string {
  const chars = Array.from(text);
  const shown = chars.length > EXAMPLE_CHARS ? chars.slice(0, EXAMPLE_CHARS - 1).join("") + "…" : text;
  return `line ${line}: ${JSON.stringify(shown)}`;
}

/** The errno code of a file system error, and a short reason for a message. */
function describeFsError(err: unknown): { code: string; reason: string } {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "";
  switch (code) {
    case "ENOENT":
      return { code, reason: "no such file" };
    case "ENOTDIR":
      return { code, reason: "a part of the path is not a directory" };
    case "EISDIR":
      return { code, reason: "it is a directory" };
    case "EACCES":
    case "EPERM":
      return { code, reason: "permission denied" };
    case "ENOSPC":
      return { code, reason: "no space left on the device" };
    case "EDQUOT":
      return { code, reason: "disk quota exceeded" };
    case "ELOOP":
      return { code, reason: "too many symbolic links" };
    case "ENAMETOOLONG":
      return { code, reason: "the name is too long" };
    case "EIO":
      return { code, reason: "an I/O error occurred" };
    default: {
      const message = err instanceof Error ? err.message : String(err);
      return { code, reason: message.replace(/[.;]\s*$/, "") };
    }
  }
}

/** Why the ID file (or stdin) cannot be read, as a usage error. */
export function readError(path: string, err: unknown): UsageError {
  const { code, reason } = describeFsError(err);
  let message: string;
  if (code === "ENOENT") message = idFileMessages.missing(path);
  else if (code === "EISDIR") message = idFileMessages.directory(path);
  else if (code === "EACCES" || code === "EPERM") message = idFileMessages.permission(path);
  else message = idFileMessages.unreadable(path, reason);
  return new UsageError(message, { cause: err });
}

/** The normalised copy (or stdin's spool) cannot be written under `dir`. */
export function tmpDirError(dir: string, err: unknown): UsageError {
  return new UsageError(idFileMessages.tmpDir(dir, describeFsError(err).reason), { cause: err });
}

/** The repeat counter's scratch file under `dir` failed. */
export function scratchError(dir: string, err: unknown): UsageError {
  return new UsageError(idFileMessages.scratch(dir, describeFsError(err).reason), { cause: err });
}
