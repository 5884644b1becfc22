import t from 'tap'
import { readFile } from 'node:fs/promises'
import type { Static } from '@sinclair/typebox'
import { generate, TARGET } from '../../client/scripts/generate-types.js'
import type * as Client from '../../client/src/index.js'
import type { ErrorCode } from '../../src/http/errors.js'
import type { ProblemSchema, SessionSummarySchema, UserSchema } from '../../src/http/schemas.js'
import type { LoginBodySchema, LoginSuccessSchema, MeSchema, MfaChallengeSchema } from '../../routes/auth/session.js'
import type { RegisterBodySchema } from '../../routes/auth/register.js'
import type { SessionInfoSchema } from '../../src/http/schemas.js'
import type { TokenGrantSchema } from '../../routes/auth/token.js'
import type { BackupCodesSchema, TotpSetupSchema, VerifyBodySchema } from '../../routes/auth/mfa.js'
import type { ChangeBodySchema } from '../../routes/auth/password.js'
import type { OAuthCompleteBodySchema, OAuthLinkBodySchema, OAuthLinkStartSchema, OAuthProviderSchema } from '../../routes/auth/oauth.js'
import type { IdentitySchema } from '../../routes/auth/identities.js'
import type { PasskeyCreationOptionsSchema, PasskeyRegisterBodySchema, PasskeySchema, PasskeySignInBodySchema, PasskeySignInStartSchema } from '../../routes/auth/passkeys.js'

/** True when A and B are the same type (not merely assignable one way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
type Same<A, B> = Equal<A, B> extends true ? true : [A, 'is not', B]

// Checked by `tsc --noEmit` (npm test): the client's types are the server's schemas.
const sameTypes: Array<true> = [
  true satisfies Same<Client.ErrorCode, ErrorCode>,
  true satisfies Same<Client.User, Static<typeof UserSchema>>,
  true satisfies Same<Client.SessionSummary, Static<typeof SessionSummarySchema>>,
  true satisfies Same<Client.LoginSuccess, Static<typeof LoginSuccessSchema>>,
  true satisfies Same<Client.MfaChallenge, Static<typeof MfaChallengeSchema>>,
  true satisfies Same<Client.Me, Static<typeof MeSchema>>,
  true satisfies Same<Client.TokenGrant, Static<typeof TokenGrantSchema>>,
  true satisfies Same<Client.SessionInfo, Static<typeof SessionInfoSchema>>,
  true satisfies Same<Client.TotpSetup, Static<typeof TotpSetupSchema>>,
  true satisfies Same<Client.BackupCodes, Static<typeof BackupCodesSchema>>,
  true satisfies Same<Client.LoginBody, Static<typeof LoginBodySchema>>,
  true satisfies Same<Client.RegisterBody, Static<typeof RegisterBodySchema>>,
  true satisfies Same<Client.VerifyMfaBody, Static<typeof VerifyBodySchema>>,
  true satisfies Same<Client.ChangePasswordBody, Static<typeof ChangeBodySchema>>,
  true satisfies Same<Client.Problem, Static<typeof ProblemSchema>>,
  true satisfies Same<Client.OAuthProvider, Static<typeof OAuthProviderSchema>>,
  true satisfies Same<Client.OAuthLinkStart, Static<typeof OAuthLinkStartSchema>>,
  true satisfies Same<Client.OAuthLinkBody, Static<typeof OAuthLinkBodySchema>>,
  true satisfies Same<Client.OAuthCompleteBody, Static<typeof OAuthCompleteBodySchema>>,
  true satisfies Same<Client.Identity, Static<typeof IdentitySchema>>,
  true satisfies Same<Client.Passkey, Static<typeof PasskeySchema>>,
  true satisfies Same<Client.PasskeyCreationOptions, Static<typeof PasskeyCreationOptionsSchema>>,
  true satisfies Same<Client.PasskeySignInStart, Static<typeof PasskeySignInStartSchema>>,
  true satisfies Same<Client.PasskeyRegisterBody, Static<typeof PasskeyRegisterBodySchema>>,
  true satisfies Same<Client.PasskeySignInBody, Static<typeof PasskeySignInBodySchema>>
]

t.test('the client\'s types equal Static<> of the server\'s schemas (checked by tsc)', async t => {
  t.equal(sameTypes.length, 25)
})

t.test('client/src/api-types.ts is what the generator writes from the current schemas', async t => {
  t.equal(await readFile(TARGET, 'utf8'), generate(), 'run `npx tsx client/scripts/generate-types.ts` after changing a schema')
})
