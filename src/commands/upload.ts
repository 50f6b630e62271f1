import { Command } from "commander";
import { globals, IDS_FILE, oneOf, type Define, type Zod } from "./options.js";

const options = (z: Zod) =>
  z
    .object({
      ...globals(z),
      args: z.tuple([z.string(), z.string().optional()]),
      idsFile: z.string().optional(),
      dedupe: z.boolean().optional(),
    })
    .transform(({ args: [job, file], ...o }, ctx) => ({ ...o, job, idsFile: oneOf(ctx, IDS_FILE, o.idsFile, file) }));

/** `compliant upload <job> <ids-file>`: validates the whole file first, then uploads it. */
export const define: Define = (on) =>
  new Command("upload")
    .description("validate an ID file and upload it to a job created with `compliant create`")
    .argument("<job>", "job id or name")
    .argument("[ids-file]", "ID file (same as --ids-file)")
    .option("-i, --ids-file <path>", "file of Post or user IDs, one per line (- for stdin)")
    .option("--dedupe", "drop repeated IDs before uploading")
    .addHelpText("after", "\nExamples:\n  compliant upload nightly ids.txt\n  sort -u ids.txt | compliant upload nightly -\n")
    .action(
      on(options, async (opts, ctx) => {
        const { uploadFile } = await import("../jobs/upload.js");
        const { job, ids } = await uploadFile(ctx, opts.idsFile, { job: opts.job, dedupe: opts.dedupe, tooLarge: "use `compliant all`, which splits it across jobs" });
        if (opts.json) ctx.stdout.write(`${JSON.stringify({ id: job.id, ids: ids.ids, bytes: ids.uploadBytes, duplicates: ids.duplicates })}\n`);
        ctx.log.info(`next: compliant status ${job.id} --wait, then compliant download ${job.id} <results-file>`);
      }),
    );
