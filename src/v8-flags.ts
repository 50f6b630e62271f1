import { setFlagsFromString } from "node:v8";

/**
 * The V8 settings the CLI runs with, set once at start-up (bin/compliant.js is run as plain `node`,
 * so they cannot be command-line flags). The benchmark's validation child applies them too, so it
 * measures the code as the CLI runs it.
 */
export function applyCliV8Flags(): void {
  // undici parses HTTP with WebAssembly, which V8 re-optimises on background threads after the
  // first request; Node waits for that work at exit, adding ~0.2 s to every command. The baseline
  // WASM compiler is ample for a CLI's traffic (download throughput is unchanged), so use only that.
  setFlagsFromString("--liftoff-only");
  // Keep V8's young generation at its starting size (1 MiB semi-spaces) instead of letting it grow
  // to 16 MiB: this CLI keeps little on the JS heap (big data lives in buffers), and the grown
  // young generation alone added ~12 MB to peak RSS for nothing (measured on `all` with 10M IDs).
  setFlagsFromString("--semi-space-growth-factor=1");
}
