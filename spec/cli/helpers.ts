/** Runs CLI commands in-process with captured output, and the built binary as a child process. */
import { main } from '../../src/cli/main.js'
import type { CliIO } from '../../src/cli/io.js'

export interface Captured {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `minigpt <argv>` in this process, capturing stdout and stderr. */
export const runCli = async (argv: readonly string[]): Promise<Captured> => {
  let stdout = ''
  let stderr = ''
  const io: CliIO = { stdout: (s) => void (stdout += s), stderr: { write: (s: string) => void (stderr += s), isTTY: false } }
  const code = await main(argv, io)
  return { code, stdout, stderr }
}
