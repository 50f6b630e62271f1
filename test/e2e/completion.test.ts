// `compliant completion bash|zsh|fish`: the scripts are loaded into the real shells (those that are
// installed) and asked for completions, so a flag added to a command is completed without more work.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runCli, tempDir } from "../helpers/cli.js";

const has = (shell: string) => spawnSync("sh", ["-c", `command -v ${shell}`]).status === 0;

test("bash: subcommands, flags, --type choices, files where a path is expected, and what comes after global options", async (t) => {
  const dir = await tempDir(t, "compliant-completion-");
  const r = await runCli(["completion", "bash"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  await writeFile(join(dir, "compliant.bash"), r.stdout);
  await writeFile(join(dir, "archive.jsonl"), "");
  await writeFile(join(dir, "ids.txt"), "");
  const cases: Array<[string[], string]> = [
    [["compliant", "a"], "all apply"],
    [["compliant", "sy"], "sync"],
    [["compliant", "all", "--ty"], "--type"],
    [["compliant", "all", "--type", ""], "tweets users"],
    [["compliant", "list", "--status", "c"], "created complete"],
    [["compliant", "--state-dir", "/tmp", "hi"], "history"],
    [["compliant", "all", "-i", "id"], "ids.txt"],
    [["compliant", "apply", "-r", "x", "arch"], "archive.jsonl"],
    [["compliant", "status", "--interval", ""], ""],
    [["compliant", "completion", ""], "bash zsh fish"],
    [["compliant", "--emulator-flow", ""], "storage api"],
  ];
  const script = cases
    .map(([words, _]) => `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _compliant; echo "\${COMPREPLY[*]}"`)
    .join("\n");
  const out = spawnSync("bash", ["-c", `source ./compliant.bash\n${script}`], { cwd: dir, encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(out.stdout.split("\n").slice(0, cases.length), cases.map(([, want]) => want));
});

test("zsh and fish scripts: complete definitions that the shells accept", async (t) => {
  const dir = await tempDir(t, "compliant-completion-");
  const zsh = await runCli(["completion", "zsh"], { cwd: dir });
  assert.equal(zsh.code, 0, zsh.stderr);
  assert.match(zsh.stdout, /^#compdef compliant\n/);
  assert.match(zsh.stdout, /'sync:keep an archive compliant in one run/);
  assert.match(zsh.stdout, /\{-t,--type\}'\[job type\]:value:\(tweets users\)'/);
  const fish = await runCli(["completion", "fish"], { cwd: dir });
  assert.equal(fish.code, 0, fish.stderr);
  assert.match(fish.stdout, /complete -c compliant -n '__fish_seen_subcommand_from all' -s i -l ids-file -r -F/);
  assert.match(fish.stdout, /complete -c compliant -n '__fish_seen_subcommand_from completion' -x -a 'bash zsh fish'/);
  await writeFile(join(dir, "_compliant"), zsh.stdout);
  await writeFile(join(dir, "compliant.fish"), fish.stdout);
  if (has("zsh")) {
    const check = spawnSync("zsh", ["-n", "_compliant"], { cwd: dir, encoding: "utf8" });
    assert.equal(check.status, 0, check.stderr);
  } else t.diagnostic("zsh is not installed here: its script's syntax was not checked");
  if (has("fish")) {
    const check = spawnSync("fish", ["--no-execute", "compliant.fish"], { cwd: dir, encoding: "utf8" });
    assert.equal(check.status, 0, check.stderr);
    // fish answers completions itself: ask it.
    const ask = spawnSync("fish", ["-c", `source compliant.fish; complete -C 'compliant all --type '`], { cwd: dir, encoding: "utf8" });
    assert.deepEqual(ask.stdout.trim().split("\n").map((l) => l.split("\t")[0]).sort(), ["tweets", "users"]);
  } else t.diagnostic("fish is not installed here: its script's syntax was not checked");
});

test("completion with an unknown shell: exit 2 naming the choices", async (t) => {
  const dir = await tempDir(t, "compliant-completion-");
  const r = await runCli(["completion", "powershell"], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^compliant: command-argument value 'powershell' is invalid for argument 'shell'\. Allowed choices are bash, zsh, fish\.\n/);
  assert.equal(r.stdout, "");
});
