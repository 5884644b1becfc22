import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { readJsonArray } from '../config-json.js'

/**
 * One entry of OAUTH_PROVIDERS. Either OpenID Connect with discovery (`issuer`), OAuth 2
 * only with its endpoints (`authorizationUrl`, `tokenUrl`, `userinfoUrl`), or a `preset`
 * that fills those in.
 */
export const ProviderEntrySchema = Type.Object({
  id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$' }),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  preset: Type.Optional(Type.Union([Type.Literal('google'), Type.Literal('microsoft'), Type.Literal('github'), Type.Literal('gitlab'), Type.Literal('oidc')])),
  issuer: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  authorizationUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  tokenUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  userinfoUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  /** OAuth 2 only: a GitHub-shaped list of `{ email, primary, verified }` */
  emailsUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  /** OAuth 2 only: the userinfo field holding the stable account id (default `sub`, GitHub `id`) */
  subjectField: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  /** The claim that says the provider verified `email` (default `email_verified`) */
  emailVerifiedClaim: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  /** Microsoft: the directory (tenant) id, or `common` (the default), `organizations`, `consumers` */
  tenant: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.-]{1,64}$' })),
  clientId: Type.String({ minLength: 1, maxLength: 512 }),
  clientSecret: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  scopes: Type.Optional(Type.Array(Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,128}$' }), { maxItems: 32 })),
  /** Allows a plain-http issuer outside production (a provider on this machine or in tests). */
  local: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

export type ProviderEntry = Static<typeof ProviderEntrySchema>

interface Common {
  id: string
  name: string
  clientId: string
  clientSecret?: string
  scopes: string[]
  local: boolean
  emailVerifiedClaim: string
}

export interface OidcProviderSpec extends Common {
  kind: 'oidc'
  issuer: string
}

export interface OAuth2ProviderSpec extends Common {
  kind: 'oauth2'
  /** What identities of this provider are keyed by beside the subject (it has no real issuer). */
  issuer: string
  authorizationUrl: string
  tokenUrl: string
  userinfoUrl: string
  emailsUrl?: string
  subjectField: string
}

export type ProviderSpec = OidcProviderSpec | OAuth2ProviderSpec

const OIDC_SCOPES = ['openid', 'email', 'profile']

/** What a preset fills in; the entry's own fields win. */
function preset (entry: ProviderEntry): Partial<ProviderEntry> {
  switch (entry.preset) {
    case 'google':
      return { name: 'Google', issuer: 'https://accounts.google.com', scopes: OIDC_SCOPES }
    case 'microsoft':
      // `common` serves every tenant (openid-client checks the `{tenantid}` issuer template);
      // identities are keyed by the ID token's own `iss`, so two tenants never share one.
      // Microsoft's `email` is not verified (the nOAuth takeovers): only the optional
      // `xms_edov` claim says it is, so without it no account is created or matched by email.
      return { name: 'Microsoft', issuer: `https://login.microsoftonline.com/${entry.tenant ?? 'common'}/v2.0`, scopes: OIDC_SCOPES, emailVerifiedClaim: 'xms_edov' }
    case 'github':
      return {
        name: 'GitHub',
        issuer: 'https://github.com',
        authorizationUrl: 'https://github.com/login/oauth/authorize',
        tokenUrl: 'https://github.com/login/oauth/access_token',
        userinfoUrl: 'https://api.github.com/user',
        emailsUrl: 'https://api.github.com/user/emails',
        subjectField: 'id',
        scopes: ['read:user', 'user:email']
      }
    case 'gitlab':
      return { name: 'GitLab', issuer: 'https://gitlab.com', scopes: OIDC_SCOPES }
    case 'oidc':
      return { scopes: OIDC_SCOPES }
    default:
      return {}
  }
}

function checkUrl (value: string, field: string, entry: ProviderEntry, production: boolean): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(`entry "${entry.id}": ${field} is not a URL`)
  }
  if (url.protocol === 'https:') return value
  // Tokens and codes cross this connection: plain http only for a local provider in development.
  if (url.protocol === 'http:' && entry.local === true && !production) return value
  throw new Error(`entry "${entry.id}": ${field} must be https${production ? '' : ' (or http with "local": true)'}`)
}

/** Turns OAUTH_PROVIDERS (JSON, or `@path` to a JSON file) into provider specs; throws one line. */
export function parseProviders (raw: string | undefined, opts: { production: boolean }): ProviderSpec[] {
  if (raw === undefined) return []
  const parsed = readJsonArray(raw)
  const out: ProviderSpec[] = []
  for (const [i, item] of parsed.entries()) {
    // Value.Errors names the path and the rule, never the value (it may be a secret).
    const error = Value.Errors(ProviderEntrySchema, item).First()
    if (error !== undefined) throw new Error(`entry ${i}: ${error.path.replace(/^\//, '') || 'entry'} ${error.message.toLowerCase()}`)
    const entry = item as ProviderEntry
    if (out.some(p => p.id === entry.id)) throw new Error(`entry "${entry.id}": the id is used twice`)
    const e: ProviderEntry = { ...preset(entry), ...entry }
    const common: Common = {
      id: e.id,
      name: e.name ?? e.id,
      clientId: e.clientId,
      clientSecret: e.clientSecret,
      scopes: e.scopes ?? OIDC_SCOPES,
      local: e.local === true,
      emailVerifiedClaim: e.emailVerifiedClaim ?? 'email_verified'
    }
    if (e.authorizationUrl !== undefined || e.tokenUrl !== undefined || e.userinfoUrl !== undefined) {
      if (e.authorizationUrl === undefined || e.tokenUrl === undefined || e.userinfoUrl === undefined) {
        throw new Error(`entry "${e.id}": an OAuth 2 provider needs authorizationUrl, tokenUrl and userinfoUrl`)
      }
      out.push({
        ...common,
        kind: 'oauth2',
        authorizationUrl: checkUrl(e.authorizationUrl, 'authorizationUrl', e, opts.production),
        tokenUrl: checkUrl(e.tokenUrl, 'tokenUrl', e, opts.production),
        userinfoUrl: checkUrl(e.userinfoUrl, 'userinfoUrl', e, opts.production),
        emailsUrl: e.emailsUrl === undefined ? undefined : checkUrl(e.emailsUrl, 'emailsUrl', e, opts.production),
        issuer: e.issuer ?? new URL(e.authorizationUrl).origin,
        subjectField: e.subjectField ?? 'sub'
      })
    } else {
      if (e.issuer === undefined) throw new Error(`entry "${e.id}": needs "issuer", the endpoints of an OAuth 2 provider, or a preset`)
      out.push({ ...common, kind: 'oidc', issuer: checkUrl(e.issuer, 'issuer', e, opts.production) })
    }
  }
  return out
}
