import { Command, Option } from "commander";
import { positiveInt, type Define, type Zod } from "./options.js";

const options = (z: Zod) =>
  z.object({
    port: z
      .number()
      .optional()
      .refine((p) => p === undefined || p <= 65535, { error: (i) => `--port ${String(i.input)} is not a TCP port; choose one from 1 to 65535, or leave it out for a free one.` }),
    flow: z.enum(["storage", "api"]),
    polls: z.number(),
  });

/** `compliant emulator`: serves the local emulator until SIGINT/SIGTERM. */
export const define: Define = (on) =>
  new Command("emulator")
    .description("run the local X compliance API emulator until interrupted; prints its URL and token")
    .option("-p, --port <n>", "API port (default: a free port)", positiveInt("--port"))
    .addOption(new Option("--flow <flow>", "upload/download URLs: signed storage URLs or API-origin byte paths").choices(["storage", "api"]).default("storage"))
    .option("--polls <n>", "status polls before a job completes", positiveInt("--polls"), 1)
    .addHelpText("after", "\nExample:\n  compliant emulator --port 8787 > emulator.env &  sleep 1; set -a; . ./emulator.env; set +a; compliant list\n")
    .action(
      on(options, async (opts, ctx) => {
        const { runEmulator } = await import("../emulator/main.js");
        const { UsageError } = await import("../errors.js");
        try {
          await runEmulator({ port: opts.port, flow: opts.flow, polls: opts.polls }, { stdout: ctx.stdout, stderr: ctx.stderr, signal: ctx.signal });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "EADDRINUSE" || code === "EACCES") {
            throw new UsageError(`cannot listen on port ${opts.port} (${code === "EADDRINUSE" ? "it is in use" : "permission denied"}); choose another --port, or leave it out for a free one.`);
          }
          throw err;
        }
      }),
    );
