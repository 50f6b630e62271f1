// Strings the API sends (job names, statuses, errors, problem details, result actions and
// reasons) are shown to a person on a terminal, where control characters act: ESC starts
// sequences that set the window title, clear the screen or move the cursor, CR overwrites the
// line, and C1 codes (0x80–0x9f) are ESC's single-byte twins. Everything shown to a person goes
// through here; `--json` output and result files stay byte for byte as received.

/** C0 (incl. ESC, CR, LF, TAB), DEL, C1, the Unicode line/paragraph separators and bidi controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same without LF: for text whose line breaks are the program's own. */
const CONTROL_BUT_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function visible(c: string): string {
  return NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** One value from the API, made inert and visible: ESC → `\u001b`, CR → `\r`, LF → `\n`. */
export function forTerminal(value: string): string {
  return value.replace(CONTROL, visible);
}

/**
 * A whole message (possibly several lines of the program's own): every control character but
 * LF is made visible, so no sequence can act on the terminal or overwrite what is already shown.
 */
export function forTerminalLines(text: string): string {
  return text.replace(CONTROL_BUT_LF, visible);
}
