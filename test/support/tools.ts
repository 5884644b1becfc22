import { spawnSync } from 'node:child_process'

/*
 * A missing tool fails the test that needs it, with the line that installs it: a suite that
 * skips what it cannot run reports green on a machine that tested nothing. CI installs them.
 */
const INSTALL: Record<string, string> = {
  'redis-server': 'apt-get install -y redis-server',
  'redis-cli': 'apt-get install -y redis-tools',
  curl: 'apt-get install -y curl',
  bash: 'apt-get install -y bash',
  perl: 'apt-get install -y perl',
  chromium: 'apt-get install -y chromium'
}

/** Throws `<tool> is missing: <install line>` unless `tool` is on the PATH (or at `path`). */
export function requireTool (tool: keyof typeof INSTALL, path = tool): void {
  if (spawnSync('sh', ['-c', 'command -v "$0"', path], { stdio: 'ignore' }).status === 0) return
  throw new Error(`${path} is missing: ${INSTALL[tool]}`)
}
