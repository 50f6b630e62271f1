#!/usr/bin/env node
import { runBinary } from "../dist/src/cli.js";

await runBinary();
