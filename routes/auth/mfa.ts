import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { disableTotp, enableTotp, regenerateBackupCodes, setupTotp, verifyChallenge } from '../../src/mfa/challenges.js'
import { BACKUP_CODE_COUNT } from '../../src/mfa/backup-codes.js'
import { publicUser } from '../../src/accounts/users.js'
import { AnyPasswordSchema, BODY, CSRF, GUARD, LIMITED, MessageSchema, SET_SESSION_COOKIE, answer, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'
import { LoginSuccessSchema } from './session.js'
import { TokenGrantSchema } from './token.js'
import { currentDigest, currentKeep, keepCurrent, signIn } from '../../src/sessions/lifecycle.js'
import { issueTokens } from '../../src/tokens/lifecycle.js'

const TotpCodeSchema = Type.String({ pattern: '^[0-9]{6}$', description: 'the 6-digit code of the authenticator app' })
const SecondFactorCodeSchema = Type.String({
  minLength: 6,
  maxLength: 24,
  pattern: '^[0-9A-Za-z -]+$',
  description: 'a 6-digit TOTP code or a backup code (XXXX-XXXX-XXXX-XXXX; case, spaces and dashes do not matter)'
})
const MfaTokenSchema = Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]+$', description: 'the mfaToken of the login answer' })
export const BackupCodesSchema = Type.Object({
  backupCodes: Type.Array(Type.String({ pattern: '^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$' }), { minItems: BACKUP_CODE_COUNT, maxItems: BACKUP_CODE_COUNT })
}, { $id: 'BackupCodes', additionalProperties: false, description: 'Shown once: only their hashes are kept. Each works once.' })

export const PasswordBodySchema = Type.Object({ password: AnyPasswordSchema }, { additionalProperties: false })
export const TotpSetupSchema = Type.Object({
  secret: Type.String({ description: 'Base32 TOTP secret, for typing into an app by hand' }),
  otpauthUrl: Type.String({ description: 'Key URI Format: otpauth://totp/Gatehouse:<email>?secret&issuer&algorithm&digits&period' }),
  qrSvg: Type.String({ description: 'the otpauthUrl as a QR code, an SVG document' })
}, { $id: 'TotpSetup', additionalProperties: false })
export const EnableBodySchema = Type.Object({ code: TotpCodeSchema }, { additionalProperties: false })
// Changing the second factor takes both factors: the password and a TOTP or backup code.
const BothFactorsBodySchema = Type.Object({ password: AnyPasswordSchema, code: SecondFactorCodeSchema }, { additionalProperties: false })
export const DisableBodySchema = BothFactorsBodySchema
export const RegenerateBodySchema = BothFactorsBodySchema
export const VerifyBodySchema = Type.Object({
  mfaToken: MfaTokenSchema,
  code: SecondFactorCodeSchema,
  method: Type.Optional(Type.Union([Type.Literal('totp'), Type.Literal('backup_code')], { description: 'guessed from the code when absent' }))
}, { additionalProperties: false })
export const MfaVerifyAnswerSchema = Type.Union([LoginSuccessSchema, TokenGrantSchema])

const routes: FastifyPluginAsyncTypebox = async (app) => {
  // Each of these checks a password or a code: one per-client count with /login and /token.
  const preHandler = app.limitCredentialChecks

  app.post('/2fa/setup', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'setupTotp',
      tags: tag('mfa'),
      summary: 'Start TOTP enrolment: a new secret, its otpauth URI and QR code (nothing is on until /2fa/enable)',
      body: PasswordBodySchema,
      response: { 200: answer('A new TOTP secret, pending until /2fa/enable', TotpSetupSchema), ...problems(BODY, CSRF, GUARD, LIMITED, 'INVALID_CREDENTIALS', 'MFA_ALREADY_ENABLED') }
    },
    preHandler
  }, async (request) => {
    return await setupTotp(app.mfa, request.user!, request.body.password, currentDigest(request) ?? '')
  })

  app.post('/2fa/enable', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'enableTotp',
      tags: tag('mfa'),
      summary: 'Turn TOTP on with a first code from the app; answers the backup codes once and ends the other sessions',
      description: 'The password was given to /2fa/setup; the setup belongs to that session and lasts 10 minutes.',
      body: EnableBodySchema,
      response: { 200: answer('2FA is on; the backup codes are shown this once', BackupCodesSchema), ...problems(BODY, CSRF, GUARD, LIMITED, 'INVALID_MFA_CODE', 'MFA_ALREADY_ENABLED', 'MFA_SETUP_REQUIRED') }
    },
    preHandler
  }, async (request) => {
    const backupCodes = await enableTotp(app.mfa, request.user!, request.body.code, currentDigest(request) ?? '', currentKeep(request))
    // The caller's own session or token family takes the new credential version.
    await keepCurrent(app.sessions, request)
    await app.events.emit({ type: 'mfa.enabled', userId: request.user!.id, ...app.events.origin(request), data: { method: 'totp' } })
    return { backupCodes }
  })

  app.post('/2fa/disable', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'disableTotp',
      tags: tag('mfa'),
      summary: 'Turn TOTP off (password and a TOTP or backup code); ends the other sessions',
      body: DisableBodySchema,
      response: { 200: answer('2FA is off', MessageSchema), ...problems(BODY, CSRF, GUARD, LIMITED, 'INVALID_CREDENTIALS', 'INVALID_MFA_CODE', 'MFA_NOT_ENABLED') }
    },
    preHandler
  }, async (request) => {
    await disableTotp(app.mfa, request.user!, request.body.password, request.body.code, currentKeep(request))
    await keepCurrent(app.sessions, request)
    await app.events.emit({ type: 'mfa.disabled', userId: request.user!.id, ...app.events.origin(request), data: { method: 'totp' } })
    return { message: 'Two-factor authentication is off.' }
  })

  app.post('/2fa/backup-codes', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'regenerateBackupCodes',
      tags: tag('mfa'),
      summary: 'Replace the backup codes (password and a TOTP or backup code; the old codes stop working); ends the other sessions',
      description: 'A backup code given as `code` is spent like any other, then the whole set is replaced. The owner is mailed.',
      body: RegenerateBodySchema,
      response: { 200: answer('The new backup codes, shown this once', BackupCodesSchema), ...problems(BODY, CSRF, GUARD, LIMITED, 'INVALID_CREDENTIALS', 'INVALID_MFA_CODE', 'MFA_NOT_ENABLED') }
    },
    preHandler
  }, async (request) => {
    const backupCodes = await regenerateBackupCodes(app.mfa, request.user!, request.body.password, request.body.code, currentKeep(request))
    await keepCurrent(app.sessions, request)
    await app.events.emit({ type: 'mfa.backup_codes_regenerated', userId: request.user!.id, ...app.events.origin(request) })
    return { backupCodes }
  })

  app.post('/mfa/verify', {
    schema: {
      operationId: 'verifyMfa',
      tags: tag('session'),
      summary: 'Answer the login challenge with a TOTP or backup code; answers as a successful login',
      security: [],
      description: 'A challenge dies after 5 wrong codes or its lifetime (5 minutes): 400 INVALID_TOKEN, sign in again.',
      body: VerifyBodySchema,
      response: {
        200: answer('Signed in: LoginSuccess with the cookie for a challenge from /login, TokenGrant for one from /token', MfaVerifyAnswerSchema, SET_SESSION_COOKIE),
        ...problems(BODY, CSRF, LIMITED, 'INVALID_TOKEN', 'INVALID_MFA_CODE', 'ACCOUNT_DISABLED')
      }
    },
    preHandler
  }, async (request, reply) => {
    const { user, grant, method } = await verifyChallenge(app.mfa, request.body)
    // A challenge begun at POST /token completes with bearer tokens, not a cookie.
    if (grant === 'token') {
      const tokens = await issueTokens(app.sessions, request, user, method)
      await app.devices.signedIn(request, reply, user.id, { method, kind: 'token', mfa: true })
      return tokens
    }
    const { expiresAt, csrfToken } = await signIn(app.sessions, request, user, method)
    await app.devices.signedIn(request, reply, user.id, { method, kind: 'cookie', mfa: true })
    request.log.info({ userId: user.id }, 'login (second factor)')
    return { message: 'Login successful' as const, user: publicUser(user), session: { expiresAt: expiresAt.toISOString() }, csrfToken }
  })
}

export default routes
