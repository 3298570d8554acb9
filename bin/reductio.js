#!/usr/bin/env node
// The `reductio` command: runs the built CLI (dist/), or the TypeScript sources when the
// `reductio-source` condition is set (the test suite does this).
import { main } from "reductio-workflow/cli"

process.exitCode = await main(process.argv.slice(2))
