#!/usr/bin/env node
/** The executable behind `minigpt` (package.json "bin"): runs {@link main} on the process's arguments. */
import { main } from './main.js'

main(process.argv.slice(2), { stdout: (s) => void process.stdout.write(s), stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`minigpt: ${(e as Error).message}\n`)
    process.exitCode = 1
  },
)
