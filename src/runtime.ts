// The process-wide tuning the `compliant` binary runs with: V8 flags, and a young-generation
// collection paced by the bytes transferred. Only the binary's entry (runBinary() in cli.ts)
// applies it, so a program that imports the library, or the test runner, keeps Node's defaults.
// COMPLIANT_NO_V8_TUNING=1 (any non-empty value but "0") switches all of it off.
//
// Why a paced collection: streamed uploads and downloads allocate a fresh buffer per chunk
// (Node's file streams and socket reads do). Left to itself V8 frees them late: on a 128 MB
// transfer they piled up to ~35 MB before a collection, again and again, so peak RSS grew with
// the input (the target is a peak at 10M IDs within 10% of 1M's). A young-generation collection
// (scavenge, ~1 ms on this small heap) every 4 MiB transferred frees them while they are still
// young. Measured on `all` with 10M IDs against `compliant emulator`: peak RSS 122 → 101 MB; a
// full collection every 16 MiB gave 108 MB and cost ~14 ms each; every 16 MiB of scavenges, 118 MB.
//
// Node exposes no collection API without --expose-gc, which can only be set before the VM starts
// (the binary runs as plain `node`). V8 does honour the flag at run time for new contexts, so one
// throwaway context hands over its `gc`. If that ever stops working, the pacing does nothing (and
// the test of collectorAvailable fails).

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** The environment variable that switches the tuning off. */
export const NO_TUNING_ENV = "COMPLIANT_NO_V8_TUNING";

/** Told the size of every chunk a transfer reads or writes (see ComplianceApi and downloadResults). */
export type ChunkHook = (bytes: number) => void;

/** True unless `COMPLIANT_NO_V8_TUNING` is set to something other than "" or "0". */
function tuningEnabled(env: Record<string, string | undefined>): boolean {
  const v = env[NO_TUNING_ENV];
  return v === undefined || v === "" || v === "0";
}

/**
 * Applies the binary's tuning to this process (once; later calls only return the hook) and
 * returns the per-chunk hook that paces collections, or undefined when the tuning is off.
 */
export function applyRuntimeTuning(env: Record<string, string | undefined>): ChunkHook | undefined {
  if (!tuningEnabled(env)) return undefined;
  applyV8Flags();
  const pacer = new TransferPacer();
  return (bytes) => pacer.add(bytes);
}

let flagsApplied = false;

/**
 * The V8 settings the CLI runs with, set at start-up (bin/compliant.js is run as plain `node`, so
 * they cannot be command-line flags). The benchmark's validation child applies them too, so it
 * measures the code as the CLI runs it.
 */
export function applyV8Flags(): void {
  if (flagsApplied) return;
  flagsApplied = true;
  // undici parses HTTP with WebAssembly, which V8 re-optimises on background threads after the
  // first request; Node waits for that work at exit, adding ~0.2 s to every command. The baseline
  // WASM compiler is ample for a CLI's traffic (download throughput is unchanged), so use only that.
  setFlagsFromString("--liftoff-only");
  // Keep V8's young generation at its starting size (1 MiB semi-spaces) instead of letting it grow
  // to 16 MiB: this CLI keeps little on the JS heap (big data lives in buffers), and the grown
  // young generation alone added ~12 MB to peak RSS for nothing (measured on `all` with 10M IDs).
  setFlagsFromString("--semi-space-growth-factor=1");
}

type GcFunction = (options?: { type?: "major" | "minor"; execution?: "sync" | "async" }) => void;

/** Bytes transferred between two collections. */
export const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

let gcFunction: GcFunction | null | undefined;

function gc(): GcFunction | null {
  if (gcFunction !== undefined) return gcFunction;
  gcFunction = null;
  try {
    setFlagsFromString("--expose-gc");
    const fn: unknown = runInNewContext("gc");
    if (typeof fn === "function") gcFunction = fn as GcFunction;
  } catch {
    // Not available: V8 collects on its own schedule.
  } finally {
    // The flag is process-wide: switch it off again so no later context or worker gets a `gc`.
    try {
      setFlagsFromString("--no-expose-gc");
    } catch {
      // Nothing more to undo.
    }
  }
  return gcFunction;
}

/** True when a collection can be asked for (see above); false means V8's own schedule only. */
export function collectorAvailable(): boolean {
  return gc() !== null;
}

function collectYoung(): void {
  try {
    gc()?.({ type: "minor" });
  } catch {
    // A collection that cannot run must not fail the transfer.
  }
}

/** Counts the bytes transferred and runs a young-generation collection every `every` bytes. */
export class TransferPacer {
  private since = 0;

  constructor(
    private readonly every = COLLECT_EVERY_BYTES,
    private readonly collect: () => void = collectYoung,
  ) {}

  add(bytes: number): void {
    this.since += bytes;
    if (this.since < this.every) return;
    this.since = 0;
    this.collect();
  }
}
