#!/usr/bin/env node
import { runBinary } from "../dist/src/cli.js";

// Not awaited: runBinary sets the exit code itself, also if the run never settles.
void runBinary();
