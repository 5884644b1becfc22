import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import openapiTS, { astToString } from 'openapi-typescript'
import { PROJECT_ROOT } from '../../src/redis/local-server.js'
import { build } from '../helper.js'

const run = promisify(execFile)
const bin = (name: string): string => join(PROJECT_ROOT, 'node_modules', '.bin', name)

/** The document as a server in production would publish it (its PUBLIC_URL is not localhost). */
async function document (t: Parameters<typeof build>[0]): Promise<Record<string, unknown>> {
  const ctx = await build(t, { PUBLIC_URL: 'https://auth.acme.test' })
  return (await ctx.app.inject('/openapi.json')).json()
}

interface LintResult { totals: { errors: number, warnings: number, ignored: number }, problems: Array<{ ruleId: string, message: string, location: Array<{ pointer: string }> }> }

t.test('Redocly\'s recommended rules find no error and no warning in the document', async t => {
  // The path the reasoned exceptions in .redocly.lint-ignore.yaml are written for.
  const dir = join(PROJECT_ROOT, 'var', 'openapi-lint')
  await mkdir(dir, { recursive: true })
  const file = join(dir, 'openapi.json')
  await writeFile(file, JSON.stringify(await document(t), null, 2))
  const out = await run(bin('redocly'), ['lint', file, '--format=json'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    maxBuffer: 16 * 1024 * 1024
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
  const result = JSON.parse(out.stdout) as LintResult
  const found = result.problems.map(p => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`)
  t.same(found, [], 'no problems')
  t.equal(result.totals.errors, 0)
  t.equal(result.totals.warnings, 0)
  t.equal(result.totals.ignored, 5, 'only the exceptions of .redocly.lint-ignore.yaml: no 4xx for the health probes and the provider list, no 2xx for the two OAuth redirects')
})

/** A small app on openapi-fetch, as a user of the generated types would write it. */
const USAGE = `
import createClient from 'openapi-fetch'
import type { components, paths } from './schema.js'

type User = components['schemas']['User']
const api = createClient<paths>({ baseUrl: 'https://auth.acme.test' })

export async function signIn (email: string, password: string, totp: () => Promise<string>): Promise<User> {
  const { data, error } = await api.POST('/api/auth/login', { body: { email, password } })
  if (error !== undefined) {
    // Exactly the codes /login can answer.
    switch (error.code) {
      case 'INVALID_CREDENTIALS':
      case 'INVALID_MFA_CODE':
      case 'EMAIL_NOT_VERIFIED':
      case 'ACCOUNT_DISABLED':
      case 'CSRF_REJECTED':
      case 'VALIDATION_FAILED':
      case 'PAYLOAD_TOO_LARGE':
      case 'UNSUPPORTED_MEDIA_TYPE':
      case 'RATE_LIMITED':
      case 'SERVICE_UNAVAILABLE':
      case 'INTERNAL':
        throw new Error(error.detail)
      default: {
        const never: never = error
        throw new Error(String(never))
      }
    }
  }
  if ('mfaRequired' in data) {
    const challenge: components['schemas']['MfaChallenge'] = data
    const verified = await api.POST('/api/auth/mfa/verify', { body: { mfaToken: challenge.mfaToken, code: await totp() } })
    if (verified.data === undefined) throw new Error(verified.error.code)
    if ('accessToken' in verified.data) throw new Error('a challenge from /login answers with a session')
    return verified.data.user
  }
  const csrf: string = data.csrfToken
  await api.POST('/api/auth/logout', { headers: { 'X-CSRF-Token': csrf } })
  return data.user
}

export async function whoAmI (): Promise<string | null> {
  const { data, error } = await api.GET('/api/auth/me')
  if (error !== undefined) {
    // @ts-expect-error /me cannot answer INVALID_MFA_CODE
    if (error.code === 'INVALID_MFA_CODE') return null
    return error.code === 'UNAUTHENTICATED' ? null : error.title
  }
  return data.user.username ?? data.user.email
}

export async function refresh (refreshToken: string): Promise<components['schemas']['TokenGrant']> {
  const { data, error } = await api.POST('/api/auth/token/refresh', { body: { refreshToken } })
  if (error !== undefined) throw new Error(error.code)
  return data
}

export async function endOthers (): Promise<number> {
  const { data } = await api.GET('/api/auth/sessions')
  const others = (data?.sessions ?? []).filter(s => !s.current)
  for (const s of others) await api.DELETE('/api/auth/sessions/{id}', { params: { path: { id: s.id } } })
  // @ts-expect-error the body of /register is checked: the password is required
  await api.POST('/api/auth/register', { body: { email: 'a@b.c' } })
  return others.length
}
`

t.test('openapi-typescript types from the document type-check an openapi-fetch app', async t => {
  const types = astToString(await openapiTS(await document(t) as unknown as Parameters<typeof openapiTS>[0]))
  t.match(types, /"application\/problem\+json"/, 'problem responses keep their media type')
  // Under the project, so that 'openapi-fetch' resolves from its node_modules.
  await mkdir(join(PROJECT_ROOT, 'var'), { recursive: true })
  const dir = await mkdtemp(join(PROJECT_ROOT, 'var', 'openapi-fetch-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'schema.ts'), types)
  await writeFile(join(dir, 'app.ts'), USAGE)
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, lib: ['ES2022', 'DOM'], types: [] },
    files: ['app.ts']
  }))
  const result = await run(bin('tsc'), ['-p', join(dir, 'tsconfig.json')], { cwd: PROJECT_ROOT }).then(() => '', (err: { stdout?: string }) => err.stdout ?? String(err))
  t.equal(result, '', 'tsc finds no error')
})
