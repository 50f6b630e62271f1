import { Argument, Command, type Option } from "commander";
import { globals, type Define, type Zod } from "./options.js";

const SHELL_NAMES = ["bash", "zsh", "fish"] as const;

const options = (z: Zod) =>
  z.object({
    ...globals(z),
    args: z.tuple([z.enum(SHELL_NAMES, { error: "the shell must be bash, zsh or fish" })]),
  });

/** Arguments and option values that name files (their completion offers file names). */
const PATH_VALUE = /<(path|file|dir|dataset|results)[^>]*>/;
const FILE_ARGS = /dataset|file|results/;

type Spec = import("../output/completion.js").ProgramSpec;

function optionSpec(o: Option): Spec["globals"][number] {
  return {
    ...(o.short ? { short: o.short } : {}),
    long: o.long!,
    description: o.description,
    value: o.required || o.optional,
    ...(o.argChoices ? { choices: o.argChoices } : {}),
    path: PATH_VALUE.test(o.flags),
  };
}

/** The program as completion scripts see it, read from commander's own definitions. */
function describe(program: Command): Spec {
  return {
    name: program.name(),
    globals: program.options.filter((o) => o.long && o.long !== "--version").map(optionSpec),
    commands: program.commands.map((c) => {
      const first = c.registeredArguments[0];
      return {
        name: c.name(),
        description: c.description(),
        options: c.options.filter((o) => o.long).map(optionSpec),
        files: c.registeredArguments.some((a) => FILE_ARGS.test(a.name())),
        ...(first?.argChoices ? { argChoices: first.argChoices } : {}),
      };
    }),
  };
}

/** `compliant completion bash|zsh|fish`: a completion script on stdout (output/completion.ts). */
export const define: Define = (on) => {
  const command = new Command("completion")
    .description("print a shell completion script (bash, zsh or fish) for compliant's commands and flags")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELL_NAMES))
    .addHelpText(
      "after",
      `
Install:
  bash:  compliant completion bash > ~/.local/share/bash-completion/completions/compliant
  zsh:   compliant completion zsh > "\${fpath[1]}/_compliant"   (then: autoload -U compinit && compinit)
  fish:  compliant completion fish > ~/.config/fish/completions/compliant.fish
`,
    );
  return command.action(
    on(options, async (opts, ctx) => {
      const { completionScript } = await import("../output/completion.js");
      const program = command.parent;
      if (!program) throw new Error("completion is a subcommand of the program");
      ctx.stdout.write(completionScript(opts.args[0], describe(program)));
    }),
  );
};
