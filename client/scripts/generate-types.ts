/*
 * Writes client/src/api-types.ts: the request and response types of the API as plain
 * TypeScript, generated from the server's own TypeBox schemas. The client package gets
 * self-contained types (its .d.ts never points into the server), and test/client/ checks
 * that the file is up to date and that each type equals `Static<>` of its schema.
 *
 *   npx tsx client/scripts/generate-types.ts          (write)
 *   npx tsx client/scripts/generate-types.ts --check  (exit 1 if out of date)
 */
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { TSchema } from '@sinclair/typebox'
import { ERRORS } from '../../src/http/errors.js'
import { MessageSchema, ProblemSchema, SessionSummarySchema, UserSchema } from '../../src/http/schemas.js'
import { RegisterBodySchema, ResendBodySchema, VerifiedEmailSchema, VerifyEmailBodySchema } from '../../routes/auth/register.js'
import { LoginBodySchema, LoginSuccessSchema, LogoutBodySchema, MeSchema, MfaChallengeSchema } from '../../routes/auth/session.js'
import { SessionInfoSchema, SessionListSchema } from '../../src/http/schemas.js'
import { ChangeBodySchema, ForgotBodySchema, ResetBodySchema } from '../../routes/auth/password.js'
import { RefreshBodySchema, TokenGrantSchema } from '../../routes/auth/token.js'
import { BackupCodesSchema, DisableBodySchema, EnableBodySchema, PasswordBodySchema, RegenerateBodySchema, TotpSetupSchema, VerifyBodySchema } from '../../routes/auth/mfa.js'
import { OAuthCompleteBodySchema, OAuthLinkBodySchema, OAuthLinkStartSchema, OAuthProviderListSchema, OAuthProviderSchema } from '../../routes/auth/oauth.js'
import { IdentityListSchema, IdentitySchema } from '../../routes/auth/identities.js'
import { EmailCodeRequestBodySchema, EmailCodeVerifyBodySchema } from '../../routes/auth/email-code.js'
import { ActivityEventSchema, ActivityPageSchema, ActivityQuerySchema } from '../../routes/auth/activity.js'
import { GlobalActivityEventSchema, GlobalActivityPageSchema } from '../../routes/admin/activity.js'
import { DeleteAccountBodySchema, EmailChangeBodySchema, EmailTokenBodySchema, ProfileBodySchema, UserAnswerSchema } from '../../routes/auth/account.js'
import { AdminCreateBodySchema, AdminPatchBodySchema, AdminUserAnswerSchema, AdminUserDetailSchema, AdminUserSchema, ListQuerySchema, UserPageSchema } from '../../routes/admin/users.js'
import {
  PasskeyCreationOptionsSchema, PasskeyListSchema, PasskeyMfaBodySchema, PasskeyMfaOptionsBodySchema, PasskeyRegisterBodySchema,
  PasskeyRegisterOptionsBodySchema, PasskeyRenameBodySchema, PasskeyRequestOptionsSchema, PasskeySchema, PasskeySignInBodySchema, PasskeySignInStartSchema
} from '../../routes/auth/passkeys.js'

/** Type name → schema. Schemas with an `$id` must be listed under that name. */
export const TYPES: Record<string, TSchema> = {
  User: UserSchema,
  SessionSummary: SessionSummarySchema,
  Message: MessageSchema,
  Problem: ProblemSchema,
  LoginSuccess: LoginSuccessSchema,
  MfaChallenge: MfaChallengeSchema,
  Me: MeSchema,
  TokenGrant: TokenGrantSchema,
  VerifiedEmail: VerifiedEmailSchema,
  SessionInfo: SessionInfoSchema,
  SessionList: SessionListSchema,
  TotpSetup: TotpSetupSchema,
  BackupCodes: BackupCodesSchema,
  RegisterBody: RegisterBodySchema,
  VerifyEmailBody: VerifyEmailBodySchema,
  ResendBody: ResendBodySchema,
  LoginBody: LoginBodySchema,
  LogoutBody: LogoutBodySchema,
  VerifyMfaBody: VerifyBodySchema,
  ForgotPasswordBody: ForgotBodySchema,
  ResetPasswordBody: ResetBodySchema,
  ChangePasswordBody: ChangeBodySchema,
  PasswordBody: PasswordBodySchema,
  EnableTotpBody: EnableBodySchema,
  DisableTotpBody: DisableBodySchema,
  RegenerateBackupCodesBody: RegenerateBodySchema,
  RefreshBody: RefreshBodySchema,
  OAuthProvider: OAuthProviderSchema,
  OAuthProviderList: OAuthProviderListSchema,
  OAuthLinkStart: OAuthLinkStartSchema,
  OAuthLinkBody: OAuthLinkBodySchema,
  OAuthCompleteBody: OAuthCompleteBodySchema,
  Identity: IdentitySchema,
  IdentityList: IdentityListSchema,
  EmailCodeRequestBody: EmailCodeRequestBodySchema,
  EmailCodeVerifyBody: EmailCodeVerifyBodySchema,
  ActivityEvent: ActivityEventSchema,
  ActivityPage: ActivityPageSchema,
  ActivityQuery: ActivityQuerySchema,
  GlobalActivityEvent: GlobalActivityEventSchema,
  GlobalActivityPage: GlobalActivityPageSchema,
  UserAnswer: UserAnswerSchema,
  ProfileBody: ProfileBodySchema,
  EmailChangeBody: EmailChangeBodySchema,
  EmailTokenBody: EmailTokenBodySchema,
  DeleteAccountBody: DeleteAccountBodySchema,
  AdminUser: AdminUserSchema,
  UserPage: UserPageSchema,
  AdminUserDetail: AdminUserDetailSchema,
  AdminUserAnswer: AdminUserAnswerSchema,
  AdminListQuery: ListQuerySchema,
  AdminCreateUserBody: AdminCreateBodySchema,
  AdminUpdateUserBody: AdminPatchBodySchema,
  Passkey: PasskeySchema,
  PasskeyList: PasskeyListSchema,
  PasskeyCreationOptions: PasskeyCreationOptionsSchema,
  PasskeyRequestOptions: PasskeyRequestOptionsSchema,
  PasskeySignInStart: PasskeySignInStartSchema,
  PasskeyRegisterOptionsBody: PasskeyRegisterOptionsBodySchema,
  PasskeyRegisterBody: PasskeyRegisterBodySchema,
  PasskeySignInBody: PasskeySignInBodySchema,
  PasskeyMfaOptionsBody: PasskeyMfaOptionsBodySchema,
  PasskeyMfaBody: PasskeyMfaBodySchema,
  PasskeyRenameBody: PasskeyRenameBodySchema
}

type Schema = Record<string, unknown>

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/

function comment (text: unknown, indent: string): string {
  return typeof text === 'string' ? `${indent}/** ${text.replace(/\*\//g, '*\\/')} */\n` : ''
}

function render (schema: Schema, indent: string, top = false): string {
  if (!top && typeof schema.$id === 'string') {
    if (TYPES[schema.$id] === undefined) throw new Error(`${schema.$id} is named ($id) but not listed in TYPES`)
    return schema.$id
  }
  if ('const' in schema) return JSON.stringify(schema.const)
  if (Array.isArray(schema.enum)) return schema.enum.map(v => JSON.stringify(v)).join(' | ')
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Schema[]).map(s => render(s, indent)).join(' | ')
  switch (schema.type) {
    case 'string': return 'string'
    case 'integer':
    case 'number': return 'number'
    case 'boolean': return 'boolean'
    case 'null': return 'null'
    case 'array': {
      const item = render(schema.items as Schema, indent)
      return /[ |]/.test(item) ? `Array<${item}>` : `${item}[]`
    }
    case 'object': {
      const pattern = schema.patternProperties as Record<string, Schema> | undefined
      if (pattern !== undefined) return `Record<string, ${render(Object.values(pattern)[0], indent)}>`
      const required = new Set(schema.required as string[] | undefined)
      const inner = indent + '  '
      const lines = Object.entries(schema.properties as Record<string, Schema>).map(([key, s]) =>
        `${comment(s.description, inner)}${inner}${IDENT.test(key) ? key : JSON.stringify(key)}${required.has(key) ? '' : '?'}: ${render(s, inner)}`)
      return `{\n${lines.join('\n')}\n${indent}}`
    }
  }
  throw new Error(`no TypeScript for schema ${JSON.stringify(schema)}`)
}

export function generate (): string {
  const out = [
    '// Generated by client/scripts/generate-types.ts from the server\'s TypeBox schemas: do not edit.',
    '// `npm run build:client` regenerates it; test/client/types.test.ts fails when it is out of date.',
    '',
    '/** The stable `code` of every problem document the server sends. */',
    `export type ErrorCode =\n  | ${Object.keys(ERRORS).map(c => `'${c}'`).join('\n  | ')}`,
    ''
  ]
  for (const [name, schema] of Object.entries(TYPES)) {
    const s = schema as unknown as Schema
    if (typeof s.$id === 'string' && s.$id !== name) throw new Error(`${name}: its $id is ${s.$id}`)
    const body = name === 'Problem'
      ? render(s, '', true).replace(/code: [^\n]+/, 'code: ErrorCode')
      : render(s, '', true)
    out.push(comment(s.description, '') + (body.startsWith('{') ? `export interface ${name} ${body}` : `export type ${name} = ${body}`), '')
  }
  return out.join('\n').replace(/"/g, '\'')
}

export const TARGET = fileURLToPath(new URL('../src/api-types.ts', import.meta.url))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = generate()
  if (process.argv.includes('--check')) {
    const current = await readFile(TARGET, 'utf8').catch(() => '')
    if (current !== text) {
      console.error(`${TARGET} is out of date: run npx tsx client/scripts/generate-types.ts`)
      process.exit(1)
    }
  } else {
    await writeFile(TARGET, text)
  }
}
