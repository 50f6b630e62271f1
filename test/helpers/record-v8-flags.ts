// Preloaded with `node --import` (NODE_OPTIONS) into a process under test: records every
// v8.setFlagsFromString call and writes the list, as JSON, to $RECORD_V8_FLAGS_TO at exit.
// It wraps the built-in and re-syncs its ESM exports, so `import { setFlagsFromString } from
// "node:v8"` in the code under test goes through the wrapper too; the flags are still applied.

import { writeFileSync } from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";

const require = createRequire(import.meta.url);
const v8 = require("node:v8") as typeof import("node:v8");
const original = v8.setFlagsFromString.bind(v8);
const seen: string[] = [];
v8.setFlagsFromString = (flags: string): void => {
  seen.push(flags);
  original(flags);
};
syncBuiltinESMExports();

const to = process.env.RECORD_V8_FLAGS_TO;
if (to) process.on("exit", () => writeFileSync(to, JSON.stringify(seen)));
