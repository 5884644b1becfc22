import { Type, type Static } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AuthError, validationError } from '../../src/http/errors.js'
import { AnyPasswordSchema, BODY, CSRF, GUARD, LIMITED, SET_SESSION_COOKIE, answer, noContent, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'
import { parseName, publicUser, type User } from '../../src/accounts/users.js'
import { authenticatedAt, currentKeep, signIn } from '../../src/sessions/lifecycle.js'
import { issueTokens } from '../../src/tokens/lifecycle.js'
import { answerChallenge, type LoginGrant } from '../../src/mfa/challenges.js'
import type { SignInMethod } from '../../src/events/catalogue.js'
import {
  REAUTHENTICATE_AFTER_MS, publicPasskey, registrationOptions, secondFactorOptions, signInOptions,
  verifyRegistration, verifySecondFactor, verifySignIn
} from '../../src/passkeys/ceremonies.js'
import { loginOutcome } from '../../plugins/metrics.js'
import { MfaVerifyAnswerSchema } from './mfa.js'

/*
 * The WebAuthn JSON of @simplewebauthn (RegistrationResponseJSON, AuthenticationResponseJSON,
 * the options JSON), as closed schemas with bounded strings: the answers are serialised
 * through them, and the requests are refused early when they are not of that shape.
 */
const B64 = (maxLength: number, description?: string) => Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9_-]+$', ...(description === undefined ? {} : { description }) })
const CredentialId = B64(1366, 'base64url; at most 1023 bytes (WebAuthn)')
const Transports = Type.Array(Type.String({ maxLength: 32 }), { maxItems: 10 })
const Attachment = Type.Union([Type.Literal('platform'), Type.Literal('cross-platform')])
// The outputs of the extensions a browser may report unasked (credProps is asked for); none is used.
const ExtensionResults = Type.Object({
  credProps: Type.Optional(Type.Object({ rk: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
  appid: Type.Optional(Type.Boolean()),
  appidExclude: Type.Optional(Type.Boolean()),
  hmacCreateSecret: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

const RegistrationResponseSchema = Type.Object({
  id: CredentialId,
  rawId: CredentialId,
  type: Type.Literal('public-key'),
  authenticatorAttachment: Type.Optional(Attachment),
  clientExtensionResults: ExtensionResults,
  response: Type.Object({
    clientDataJSON: B64(4096),
    attestationObject: B64(8192),
    authenticatorData: Type.Optional(B64(8192)),
    transports: Type.Optional(Transports),
    publicKeyAlgorithm: Type.Optional(Type.Integer()),
    publicKey: Type.Optional(B64(4096))
  }, { additionalProperties: false })
}, { additionalProperties: false, description: 'what `startRegistration()` of @simplewebauthn/browser answers (RegistrationResponseJSON)' })

const AuthenticationResponseSchema = Type.Object({
  id: CredentialId,
  rawId: CredentialId,
  type: Type.Literal('public-key'),
  authenticatorAttachment: Type.Optional(Attachment),
  clientExtensionResults: ExtensionResults,
  response: Type.Object({
    clientDataJSON: B64(4096),
    authenticatorData: B64(4096),
    signature: B64(2048),
    userHandle: Type.Optional(Type.String({ maxLength: 128, pattern: '^[A-Za-z0-9_-]*$' }))
  }, { additionalProperties: false })
}, { additionalProperties: false, description: 'what `startAuthentication()` of @simplewebauthn/browser answers (AuthenticationResponseJSON)' })

const Requirement = Type.Union([Type.Literal('discouraged'), Type.Literal('preferred'), Type.Literal('required')])
const Hints = Type.Array(Type.Union([Type.Literal('hybrid'), Type.Literal('security-key'), Type.Literal('client-device')]))
const Descriptor = Type.Object({ id: Type.String(), type: Type.String({ description: '`public-key`' }), transports: Type.Optional(Type.Array(Type.String())) }, { additionalProperties: false })

export const PasskeyCreationOptionsSchema = Type.Object({
  rp: Type.Object({ name: Type.String(), id: Type.Optional(Type.String()) }, { additionalProperties: false }),
  user: Type.Object({ id: Type.String(), name: Type.String(), displayName: Type.String() }, { additionalProperties: false }),
  challenge: Type.String(),
  pubKeyCredParams: Type.Array(Type.Object({ alg: Type.Integer(), type: Type.Literal('public-key') }, { additionalProperties: false })),
  timeout: Type.Optional(Type.Integer()),
  excludeCredentials: Type.Optional(Type.Array(Descriptor)),
  authenticatorSelection: Type.Optional(Type.Object({
    authenticatorAttachment: Type.Optional(Attachment),
    requireResidentKey: Type.Optional(Type.Boolean()),
    residentKey: Type.Optional(Requirement),
    userVerification: Type.Optional(Requirement)
  }, { additionalProperties: false })),
  hints: Type.Optional(Hints),
  attestation: Type.Optional(Type.Union([Type.Literal('direct'), Type.Literal('enterprise'), Type.Literal('indirect'), Type.Literal('none')])),
  extensions: Type.Optional(Type.Object({ credProps: Type.Optional(Type.Boolean()) }, { additionalProperties: false }))
}, { $id: 'PasskeyCreationOptions', additionalProperties: false, description: 'PublicKeyCredentialCreationOptionsJSON: pass it to `startRegistration({ optionsJSON })`' })

export const PasskeyRequestOptionsSchema = Type.Object({
  challenge: Type.String(),
  timeout: Type.Optional(Type.Integer()),
  rpId: Type.Optional(Type.String()),
  allowCredentials: Type.Optional(Type.Array(Descriptor)),
  userVerification: Type.Optional(Requirement),
  hints: Type.Optional(Hints)
}, { $id: 'PasskeyRequestOptions', additionalProperties: false, description: 'PublicKeyCredentialRequestOptionsJSON: pass it to `startAuthentication({ optionsJSON })`' })

export const PasskeySignInStartSchema = Type.Object({
  challengeId: Type.String({ description: 'send it back with the answer to POST /passkeys/login/verify' }),
  options: PasskeyRequestOptionsSchema
}, { $id: 'PasskeySignInStart', additionalProperties: false })

export const PasskeySchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'the handle for PATCH and DELETE /passkeys/{id}' }),
  name: Type.String(),
  authenticator: Type.Union([Type.String(), Type.Null()], { description: 'the provider (iCloud Keychain, Google Password Manager, ...) when its AAGUID is known' }),
  deviceType: Type.Union([Type.Literal('singleDevice'), Type.Literal('multiDevice')], { description: '`multiDevice`: synced between devices' }),
  backedUp: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
}, { $id: 'Passkey', additionalProperties: false })

export const PasskeyListSchema = Type.Object({ passkeys: Type.Array(PasskeySchema) }, { $id: 'PasskeyList', additionalProperties: false })

const PasskeyNameSchema = Type.String({ minLength: 1, maxLength: 64, description: 'the user\'s own name for it; trimmed, NFKC, nothing invisible' })
const ChallengeIdSchema = Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]+$', description: 'the challengeId of POST /passkeys/login/options' })
const MfaTokenSchema = Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]+$', description: 'the mfaToken of the login answer' })

export const PasskeyRegisterOptionsBodySchema = Type.Object({
  password: Type.Optional({ ...AnyPasswordSchema, description: 'required when the sign-in is older than 10 minutes' })
}, { additionalProperties: false })
export const PasskeyRegisterBodySchema = Type.Object({
  response: RegistrationResponseSchema,
  name: Type.Optional(PasskeyNameSchema)
}, { additionalProperties: false })
export const PasskeySignInBodySchema = Type.Object({
  challengeId: ChallengeIdSchema,
  response: AuthenticationResponseSchema,
  grant: Type.Optional(Type.Union([Type.Literal('session'), Type.Literal('token')], { description: '`token`: answer bearer tokens as POST /token does, instead of the session cookie' }))
}, { additionalProperties: false })
export const PasskeyMfaOptionsBodySchema = Type.Object({ mfaToken: MfaTokenSchema }, { additionalProperties: false })
export const PasskeyMfaBodySchema = Type.Object({ mfaToken: MfaTokenSchema, response: AuthenticationResponseSchema }, { additionalProperties: false })
export const PasskeyRenameBodySchema = Type.Object({ name: PasskeyNameSchema }, { additionalProperties: false })
export const PasskeySignInAnswerSchema = MfaVerifyAnswerSchema

const IdParamsSchema = Type.Object({ id: Type.String({ format: 'uuid', maxLength: 36 }) }, { additionalProperties: false })

function passkeyName (name: string | undefined): string | undefined {
  if (name === undefined) return undefined
  const parsed = parseName(name, 'name')
  if (parsed === null) throw validationError('name', 'must not be empty')
  return parsed
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = app.passkeys

  /**
   * What a completed sign-in answers, as /login or /token would: the session (with the device
   * cookie) or the tokens, and the `session.signed_in` event.
   */
  async function signedIn (request: FastifyRequest, reply: FastifyReply, user: User, grant: LoginGrant, method: SignInMethod, mfa: boolean): Promise<Static<typeof PasskeySignInAnswerSchema>> {
    if (grant === 'token') {
      const tokens = await issueTokens(app.sessions, request, user, method)
      await app.devices.signedIn(request, reply, user.id, { method, kind: 'token', mfa })
      return tokens
    }
    const { expiresAt, csrfToken } = await signIn(app.sessions, request, user, method)
    await app.devices.signedIn(request, reply, user.id, { method, kind: 'cookie', mfa })
    request.log.info({ userId: user.id, method }, 'login')
    return { message: 'Login successful' as const, user: publicUser(user), session: { expiresAt: expiresAt.toISOString() }, csrfToken }
  }

  app.post('/passkeys/register/options', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'passkeyRegistrationOptions',
      tags: tag('passkeys'),
      summary: 'Start adding a passkey: the creation options for `startRegistration()`',
      description: 'The challenge is bound to this session (or token family), works once and lasts 5 minutes. A sign-in older than 10 minutes must send the password (403 REAUTHENTICATION_REQUIRED without it; an account without a password signs in again).',
      body: Type.Optional(PasskeyRegisterOptionsBodySchema),
      response: {
        200: answer('The creation options (PublicKeyCredentialCreationOptionsJSON)', PasskeyCreationOptionsSchema),
        ...problems(BODY, CSRF, GUARD, LIMITED, 'INVALID_CREDENTIALS', 'REAUTHENTICATION_REQUIRED')
      }
    },
    preHandler: app.limitCredentialChecks
  }, async (request) => {
    const user = request.user!
    if (Date.now() - await authenticatedAt(app.sessions, request) > REAUTHENTICATE_AFTER_MS) {
      const password = request.body?.password
      if (user.passwordHash === '') throw new AuthError('REAUTHENTICATION_REQUIRED', 'You signed in more than 10 minutes ago: sign in again to add a passkey.')
      if (password === undefined) throw new AuthError('REAUTHENTICATION_REQUIRED', 'You signed in more than 10 minutes ago: send your password with this request.')
      await app.loginThrottle.guard(user.id, async () => {
        if (!await app.hasher.verify(user.passwordHash, password)) throw new AuthError('INVALID_CREDENTIALS', 'The password is incorrect.')
      })
    }
    return await registrationOptions(deps, user, currentKeep(request) ?? '')
  })

  app.post('/passkeys/register/verify', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'verifyPasskeyRegistration',
      tags: tag('passkeys'),
      summary: 'Finish adding a passkey with the browser\'s answer; answers the stored passkey',
      body: PasskeyRegisterBodySchema,
      response: {
        201: answer('The passkey, stored', PasskeySchema),
        ...problems(BODY, CSRF, GUARD, LIMITED, 'INVALID_TOKEN', 'PASSKEY_REJECTED', 'PASSKEY_LIMIT_REACHED')
      }
    },
    preHandler: app.limitCredentialChecks
  }, async (request, reply) => {
    const user = request.user!
    const name = passkeyName(request.body.name)
    const passkey = await verifyRegistration(deps, user, currentKeep(request) ?? '', request.body.response, name)
    await app.events.emit({ type: 'passkey.added', userId: user.id, ...app.events.origin(request), data: { name: passkey.name } })
    return await reply.code(201).send(publicPasskey(passkey))
  })

  app.post('/passkeys/login/options', {
    schema: {
      operationId: 'passkeySignInOptions',
      tags: tag('passkeys'),
      summary: 'Start signing in with a passkey: a challenge for `startAuthentication()` (also with conditional UI)',
      description: 'Asks for a discoverable passkey of this site, with user verification. The challenge works once and lasts 5 minutes.',
      security: [],
      response: {
        200: answer('The challenge id and the request options', PasskeySignInStartSchema),
        ...problems(BODY, CSRF, LIMITED)
      }
    },
    config: { rateLimit: { max: app.config.loginRateLimit * 6, timeWindow: 60_000 } }
  }, async () => await signInOptions(deps))

  app.post('/passkeys/login/verify', {
    schema: {
      operationId: 'verifyPasskeySignIn',
      tags: tag('passkeys'),
      summary: 'Sign in with a passkey; answers as a successful /login (or, with `grant: "token"`, as /token)',
      description: 'Failures count against the account\'s back-off like wrong passwords. A passkey with user verification is both factors: no 2FA challenge follows.',
      security: [],
      body: PasskeySignInBodySchema,
      response: {
        200: answer('Signed in: LoginSuccess with the cookie, or TokenGrant with `grant: "token"`', PasskeySignInAnswerSchema, SET_SESSION_COOKIE),
        ...problems(BODY, CSRF, LIMITED, 'INVALID_TOKEN', 'INVALID_CREDENTIALS', 'ACCOUNT_DISABLED')
      }
    },
    preHandler: app.limitCredentialChecks
  }, async (request, reply) => {
    // The same back-off, and the same failure and back-off events, as a wrong password.
    const guard = async <T>(userId: string, attempt: () => Promise<T>): Promise<T> =>
      await app.loginThrottle.guardAccount(userId, attempt, app.devices.reader(request), () => true, app.failedSignIn(request, 'passkey'))
    try {
      const { user } = await verifySignIn(deps, request.body.challengeId, request.body.response, guard)
      const grant = request.body.grant ?? 'session'
      app.metrics.countLogin('success')
      return await signedIn(request, reply, user, grant, 'passkey', false)
    } catch (err) {
      app.metrics.countLogin(loginOutcome(err))
      throw err
    }
  })

  app.post('/passkeys/mfa/options', {
    schema: {
      operationId: 'passkeyMfaOptions',
      tags: tag('passkeys'),
      summary: 'A passkey challenge for the second step of a 2FA login (when `mfaMethods` holds `passkey`)',
      security: [],
      body: PasskeyMfaOptionsBodySchema,
      response: {
        200: answer('The request options, for the account\'s own passkeys', PasskeyRequestOptionsSchema),
        ...problems(BODY, CSRF, LIMITED, 'INVALID_TOKEN', 'NOT_FOUND')
      }
    },
    config: { rateLimit: { max: app.config.loginRateLimit * 6, timeWindow: 60_000 } }
  }, async (request) => {
    const userId = await app.mfa.challenges.userOf(request.body.mfaToken)
    if (userId === null) throw new AuthError('INVALID_TOKEN', 'This sign-in challenge is expired, used or unknown; sign in again.')
    return await secondFactorOptions(deps, userId, request.body.mfaToken)
  })

  app.post('/passkeys/mfa/verify', {
    schema: {
      operationId: 'verifyPasskeyMfa',
      tags: tag('passkeys'),
      summary: 'Answer the login challenge with a passkey; answers as /mfa/verify does',
      description: 'Spends one of the challenge\'s 5 attempts, like a code at /mfa/verify.',
      security: [],
      body: PasskeyMfaBodySchema,
      response: {
        200: answer('Signed in: LoginSuccess with the cookie for a challenge from /login, TokenGrant for one from /token', MfaVerifyAnswerSchema, SET_SESSION_COOKIE),
        ...problems(BODY, CSRF, LIMITED, 'INVALID_TOKEN', 'INVALID_MFA_CODE', 'ACCOUNT_DISABLED')
      }
    },
    preHandler: app.limitCredentialChecks
  }, async (request, reply) => {
    const { mfaToken, response } = request.body
    const { user, grant, method } = await answerChallenge(app.mfa, mfaToken, async u => await verifySecondFactor(deps, u.id, mfaToken, response))
    // Recorded as its first factor (the password, an emailed code, a provider): the passkey was the second.
    return await signedIn(request, reply, user, grant, method, true)
  })

  app.get('/passkeys', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'listPasskeys',
      tags: tag('passkeys'),
      summary: 'The passkeys of this account, oldest first',
      response: { 200: answer('The passkeys', PasskeyListSchema), ...problems(GUARD) }
    }
  }, async (request) => ({ passkeys: (await deps.store.list(request.user!.id)).map(publicPasskey) }))

  app.patch('/passkeys/:id', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'renamePasskey',
      tags: tag('passkeys'),
      summary: 'Rename a passkey',
      params: IdParamsSchema,
      body: PasskeyRenameBodySchema,
      response: { 200: answer('The renamed passkey', PasskeySchema), ...problems(BODY, CSRF, GUARD, 'NOT_FOUND') }
    }
  }, async (request) => {
    const userId = request.user!.id
    const name = passkeyName(request.body.name)!
    if (!await deps.store.rename(userId, request.params.id, name)) throw new AuthError('NOT_FOUND', 'No such passkey.')
    const passkey = (await deps.store.list(userId)).find(p => p.id === request.params.id)
    if (passkey === undefined) throw new AuthError('NOT_FOUND', 'No such passkey.')
    return publicPasskey(passkey)
  })

  app.delete('/passkeys/:id', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'deletePasskey',
      tags: tag('passkeys'),
      summary: 'Delete a passkey',
      description: 'Refused (409 LAST_SIGN_IN_METHOD) when the account has no password, no linked identity and no other passkey.',
      params: IdParamsSchema,
      response: { 204: noContent('Deleted'), ...problems(BODY, CSRF, GUARD, 'NOT_FOUND', 'LAST_SIGN_IN_METHOD') }
    }
  }, async (request, reply) => {
    const userId = request.user!.id
    const passkey = (await deps.store.list(userId)).find(p => p.id === request.params.id)
    const result = passkey === undefined ? 'unknown' : await deps.store.remove(userId, passkey.id)
    if (result === 'unknown') throw new AuthError('NOT_FOUND', 'No such passkey.')
    if (result === 'last') throw new AuthError('LAST_SIGN_IN_METHOD', 'This passkey is the only way to sign in to this account: add another first.')
    await app.events.emit({ type: 'passkey.removed', userId, ...app.events.origin(request), data: { name: passkey!.name } })
    return await reply.code(204).send(null)
  })
}

export default routes
