import { randomBytes } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ephemeralKeyRing, parseKeyRing, type KeyRing } from './crypto/box.js'
import { parseProviders, type ProviderSpec } from './oauth/providers.js'
import { parseEndpoints, type WebhookEndpoint } from './webhooks/endpoints.js'

const Seconds = (def: number) => Type.Integer({ minimum: 1, default: def })

export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  // Server timeouts, milliseconds; why each value: serverTimeouts() in src/server.ts.
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 10000 }),
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 30000 }),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 72000 }),
  HTTP_CONNECTION_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 75000 }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: '^[^,:\\s]+:\\d+(,[^,:\\s]+:\\d+)*$' })),
  REDIS_SENTINELS: Type.Optional(Type.String({ pattern: '^[^,:\\s]+:\\d+(,[^,:\\s]+:\\d+)*$' })),
  REDIS_SENTINEL_NAME: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', default: 'mymaster' }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60000, default: 1000 }),
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9:_-]{0,32}$', default: 'gh:' }),
  SESSION_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  SESSION_COOKIE_NAME: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'sessionId' }),
  SESSION_TTL: Seconds(604800),
  SESSION_ABSOLUTE_TTL: Seconds(2592000),
  MAX_SESSIONS_PER_USER: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  ACCESS_TOKEN_TTL: Seconds(900),
  REFRESH_TOKEN_TTL: Seconds(2592000),
  COOKIE_SAMESITE: Type.Union([Type.Literal('Strict'), Type.Literal('Lax'), Type.Literal('None')], { default: 'Strict' }),
  COOKIE_DOMAIN: Type.Optional(Type.String({ minLength: 1 })),
  APP_ORIGIN: Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+$' })),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+$' })),
  CORS_ORIGINS: Type.String({ pattern: '^(https?://[^/\\s,]+(,https?://[^/\\s,]+)*)?$', default: '' }),
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  MAIL_FROM: Type.String({ minLength: 3, default: 'Gatehouse <no-reply@localhost>' }),
  MAIL_OUTBOX_DIR: Type.String({ minLength: 1, default: 'var/outbox' }),
  MAIL_SEND_TIMEOUT_MS: Type.Integer({ minimum: 10, maximum: 120000, default: 2000 }),
  MAIL_SEND_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
  MAIL_RETRY_DELAY_MS: Type.Integer({ minimum: 0, maximum: 600000, default: 2000 }),
  TRUST_PROXY: Type.Union([Type.Literal('off'), Type.Literal('on'), Type.Integer({ minimum: 1, maximum: 32 })], { default: 'off' }),
  LOGIN_RATE_LIMIT: Type.Integer({ minimum: 1, default: 10 }),
  LOGIN_FREE_FAILURES: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
  LOGIN_BACKOFF_BASE: Seconds(1),
  LOGIN_BACKOFF_MAX: Type.Integer({ minimum: 1, maximum: 86400, default: 900 }),
  LOGIN_FAILURE_WINDOW: Seconds(3600),
  EMAIL_TOKEN_RATE_LIMIT: Type.Integer({ minimum: 1, default: 5 }),
  EMAIL_ADDRESS_RATE_LIMIT: Type.Integer({ minimum: 1, default: 5 }),
  EMAIL_ADDRESS_RATE_WINDOW: Seconds(3600),
  ARGON2_MEMORY_KIB: Type.Integer({ minimum: 1024, maximum: 1048576, default: 19456 }),
  ARGON2_ITERATIONS: Type.Integer({ minimum: 1, maximum: 20, default: 2 }),
  ARGON2_PARALLELISM: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
  VERIFY_TOKEN_TTL: Seconds(86400),
  RESET_TOKEN_TTL: Seconds(1800),
  // One key, or a ring `kid:key,kid:key` (first seals, all open); keys are 32 bytes in hex or base64.
  // Checked by parseKeyRing, whose errors never echo the value (a schema error would).
  DATA_ENCRYPTION_KEY: Type.Optional(Type.String()),
  MFA_CHALLENGE_TTL: Seconds(300),
  // Sign-in with an emailed code or link (src/email-code/): off, its routes answer 404.
  EMAIL_CODE_SIGN_IN: Type.Boolean({ default: true }),
  EMAIL_CODE_TTL: Type.Integer({ minimum: 60, maximum: 3600, default: 600 }),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), { default: 'info' }),
  // Sign-in with other identity providers (src/oauth/). OAUTH_PROVIDERS is a JSON array or
  // `@path` to a JSON file, checked by parseProviders (whose errors never echo a secret).
  OAUTH_PROVIDERS: Type.Optional(Type.String({ minLength: 1 })),
  OAUTH_AUTO_CREATE: Type.Boolean({ default: true }),
  OAUTH_FLOW_TTL: Type.Integer({ minimum: 30, maximum: 3600, default: 600 }),
  OAUTH_HTTP_TIMEOUT: Type.Integer({ minimum: 1, maximum: 60, default: 10 }),
  // The public origin of this server, where providers send the browser back; APP_ORIGIN when unset.
  OAUTH_REDIRECT_ORIGIN: Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+$' })),
  // Security events (src/events/): each user's stream and the global one, capped by count and age.
  EVENTS_USER_MAX_COUNT: Type.Integer({ minimum: 1, maximum: 100000, default: 1000 }),
  EVENTS_USER_MAX_AGE: Seconds(7776000),
  EVENTS_GLOBAL_MAX_COUNT: Type.Integer({ minimum: 1, maximum: 100000000, default: 1000000 }),
  EVENTS_GLOBAL_MAX_AGE: Seconds(2592000),
  // Webhooks (src/webhooks/). WEBHOOKS is a JSON array or `@path`, checked by parseEndpoints
  // (whose errors never echo a secret).
  WEBHOOKS: Type.Optional(Type.String({ minLength: 1 })),
  WEBHOOK_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 3600000, default: 5000 }),
  WEBHOOK_RETRY_WINDOW_MS: Type.Integer({ minimum: 1000, maximum: 604800000, default: 86400000 }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60000, default: 10000 }),
  WEBHOOK_CLAIM_MS: Type.Integer({ minimum: 500, maximum: 3600000, default: 60000 }),
  WEBHOOK_QUEUE_MAX: Type.Integer({ minimum: 10, maximum: 10000000, default: 100000 }),
  WEBHOOK_PARKED_MAX: Type.Integer({ minimum: 10, maximum: 10000000, default: 10000 }),
  WEBHOOK_ALLOW_PRIVATE: Type.Boolean({ default: false }),
  // Passkeys (src/passkeys/): the WebAuthn relying party. RP_ID is a host name (never an IP
  // address, which browsers refuse); unset, the host of APP_ORIGIN.
  RP_ID: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.-]{1,253}$' })),
  RP_NAME: Type.String({ minLength: 1, maxLength: 64, default: 'Gatehouse' }),
  // Origins a passkey ceremony may come from; unset, every allowed origin on RP_ID or below it.
  PASSKEY_ORIGINS: Type.Optional(Type.String({ pattern: '^https?://[^/\\s,]+(,https?://[^/\\s,]+)*$' }))
}, { additionalProperties: true })

/** The environment as the schema reads it: names and units as documented in the README. */
export type Env = Static<typeof ConfigSchema>

const ms = (seconds: number): number => seconds * 1000

export interface HostPort { host: string, port: number }

/** `host:port,host:port` (the schema has checked the form); the port is after the last colon. */
export function parseHostPorts (list: string): HostPort[] {
  return list.split(',').map(hostPort => {
    const i = hostPort.lastIndexOf(':')
    return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) }
  })
}

/**
 * The origin a browser reaches a server listening on `host`:`port` by: `localhost` for a
 * loopback or wildcard address, because browsers treat http://localhost as a secure
 * context (passkeys, Secure cookies) and an IP address not.
 */
export function listeningOrigin (host: string, port: number): string {
  const local = ['127.0.0.1', '::1', '0.0.0.0', '::', 'localhost'].includes(host)
  return `http://${local ? 'localhost' : host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * The origins of the API and of the page that signs people in. Unconfigured, the API's
 * origin is the one it listens on, the page is the demo page on it, and in development a
 * browser may come as localhost or as 127.0.0.1: both are the same server.
 */
function origins (env: Env, corsOrigins: string[]) {
  const publicUrl = env.PUBLIC_URL === undefined ? listeningOrigin(env.HOST, env.PORT) : new URL(env.PUBLIC_URL).origin
  const appOrigin = env.APP_ORIGIN === undefined ? publicUrl : new URL(env.APP_ORIGIN).origin
  const loopback = env.PUBLIC_URL === undefined && env.NODE_ENV !== 'production' ? [`http://localhost:${env.PORT}`, `http://127.0.0.1:${env.PORT}`] : []
  return {
    /** The API's own public origin (PUBLIC_URL): the OpenAPI server, the URL npm start prints */
    publicUrl,
    /** The page that signs people in (APP_ORIGIN, else the API's own): where emailed links point */
    appOrigin,
    /** Every origin whose credentialed, state-changing requests pass the CSRF check, canonical */
    allowedOrigins: [...new Set([appOrigin, publicUrl, ...loopback, ...corsOrigins])],
    /** Production with neither origin set: emailed links would point at localhost */
    warnDefaultOrigin: env.NODE_ENV === 'production' && env.PUBLIC_URL === undefined && env.APP_ORIGIN === undefined
  }
}

/**
 * The WebAuthn relying party: its id (a host name) and the origins whose ceremonies count.
 * By default the id is APP_ORIGIN's host and the origins are the allowed origins on that
 * host or below it, so a page at 127.0.0.1 is not one of them (browsers refuse an IP as RP ID).
 */
function relyingParty (env: Env, allowedOrigins: string[], appOrigin: string) {
  const rpId = (env.RP_ID ?? new URL(appOrigin).hostname).toLowerCase()
  const onRp = (origin: string): boolean => {
    const host = new URL(origin).hostname
    return host === rpId || host.endsWith(`.${rpId}`)
  }
  const rpOrigins = env.PASSKEY_ORIGINS === undefined ? allowedOrigins.filter(onRp) : env.PASSKEY_ORIGINS.split(',').map(o => new URL(o).origin)
  return { rpId, rpName: env.RP_NAME, rpOrigins }
}

/**
 * The settings the code reads, each once and already parsed: durations in milliseconds
 * (`...Ms`), lists as arrays, and what NODE_ENV implies as named settings, so no plugin
 * asks which environment it runs in. The types follow the schema through this mapping.
 */
function settings (env: Env, dataKeys: KeyRing, oauthProviders: ProviderSpec[], webhooks: WebhookEndpoint[]) {
  const production = env.NODE_ENV === 'production'
  // In the form browsers send in Origin (lower case, no default port), for CORS and CSRF.
  const corsOrigins = env.CORS_ORIGINS === '' ? [] : env.CORS_ORIGINS.split(',').map(o => new URL(o).origin)
  return {
    port: env.PORT,
    host: env.HOST,
    headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeoutMs: env.HTTP_CONNECTION_TIMEOUT_MS,
    logLevel: env.LOG_LEVEL,
    /** Fastify's trustProxy value: false, true, or the number of proxy hops to trust */
    trustProxy: env.TRUST_PROXY === 'off' ? false : env.TRUST_PROXY === 'on' ? true : env.TRUST_PROXY,
    redisUrl: env.REDIS_URL,
    redisClusterNodes: env.REDIS_CLUSTER_NODES === undefined ? undefined : parseHostPorts(env.REDIS_CLUSTER_NODES),
    redisSentinels: env.REDIS_SENTINELS === undefined ? undefined : parseHostPorts(env.REDIS_SENTINELS),
    redisSentinelName: env.REDIS_SENTINEL_NAME,
    redisCommandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    redisKeyPrefix: env.REDIS_KEY_PREFIX,
    // A development secret dies with the process, which is what development wants.
    sessionSecret: env.SESSION_SECRET ?? randomBytes(32).toString('base64url'),
    sessionCookieName: env.SESSION_COOKIE_NAME,
    sessionTtlMs: ms(env.SESSION_TTL),
    sessionAbsoluteTtlMs: ms(env.SESSION_ABSOLUTE_TTL),
    /** a sign-in beyond it ends the user's oldest cookie session */
    maxSessionsPerUser: env.MAX_SESSIONS_PER_USER,
    accessTokenTtlMs: ms(env.ACCESS_TOKEN_TTL),
    refreshTokenTtlMs: ms(env.REFRESH_TOKEN_TTL),
    cookieSameSite: env.COOKIE_SAMESITE,
    cookieDomain: env.COOKIE_DOMAIN,
    /** Secure cookies in production, and always with SameSite=None (browsers demand it). */
    secureCookies: production || env.COOKIE_SAMESITE === 'None',
    ...origins(env, corsOrigins),
    corsOrigins,
    /** HSTS only means something over HTTPS, which production is. */
    hsts: production,
    smtpUrl: env.SMTP_URL,
    mailFrom: env.MAIL_FROM,
    mailOutboxDir: env.MAIL_OUTBOX_DIR,
    mailSendTimeoutMs: env.MAIL_SEND_TIMEOUT_MS,
    mailSendAttempts: env.MAIL_SEND_ATTEMPTS,
    mailRetryDelayMs: env.MAIL_RETRY_DELAY_MS,
    loginRateLimit: env.LOGIN_RATE_LIMIT,
    loginFreeFailures: env.LOGIN_FREE_FAILURES,
    loginBackoffBaseMs: ms(env.LOGIN_BACKOFF_BASE),
    loginBackoffMaxMs: ms(env.LOGIN_BACKOFF_MAX),
    loginFailureWindowMs: ms(env.LOGIN_FAILURE_WINDOW),
    emailTokenRateLimit: env.EMAIL_TOKEN_RATE_LIMIT,
    emailAddressRateLimit: env.EMAIL_ADDRESS_RATE_LIMIT,
    emailAddressRateWindowMs: ms(env.EMAIL_ADDRESS_RATE_WINDOW),
    argon2MemoryKib: env.ARGON2_MEMORY_KIB,
    argon2Iterations: env.ARGON2_ITERATIONS,
    argon2Parallelism: env.ARGON2_PARALLELISM,
    verifyTokenTtlMs: ms(env.VERIFY_TOKEN_TTL),
    resetTokenTtlMs: ms(env.RESET_TOKEN_TTL),
    mfaChallengeTtlMs: ms(env.MFA_CHALLENGE_TTL),
    /** false: POST /email-code/* are not registered (404) */
    emailCodeSignIn: env.EMAIL_CODE_SIGN_IN,
    emailCodeTtlMs: ms(env.EMAIL_CODE_TTL),
    /** DATA_ENCRYPTION_KEY as a key ring (a random one-process key when unset) */
    dataKeys,
    /** true when dataKeys is that one-process key: secrets sealed now die with the process */
    ephemeralKeys: env.DATA_ENCRYPTION_KEY === undefined,
    /** required in production (loadConfig refuses to start without it): GET /metrics is never open there */
    metricsToken: env.METRICS_TOKEN,
    /** OAUTH_PROVIDERS parsed, presets filled in (plain http only for a local provider outside production) */
    oauthProviders,
    oauthAutoCreate: env.OAUTH_AUTO_CREATE,
    oauthFlowTtlMs: ms(env.OAUTH_FLOW_TTL),
    oauthHttpTimeoutMs: ms(env.OAUTH_HTTP_TIMEOUT),
    eventsUserMaxCount: env.EVENTS_USER_MAX_COUNT,
    eventsUserMaxAgeMs: ms(env.EVENTS_USER_MAX_AGE),
    eventsGlobalMaxCount: env.EVENTS_GLOBAL_MAX_COUNT,
    eventsGlobalMaxAgeMs: ms(env.EVENTS_GLOBAL_MAX_AGE),
    /** where providers send the browser back: this server's public origin (PUBLIC_URL unless set apart) */
    oauthRedirectOrigin: env.OAUTH_REDIRECT_ORIGIN === undefined ? origins(env, corsOrigins).publicUrl : new URL(env.OAUTH_REDIRECT_ORIGIN).origin,
    /** WEBHOOKS parsed: where security events are delivered, signed per Standard Webhooks */
    webhooks,
    /** the first retry waits this long, each next one twice as long, at most an hour */
    webhookRetryBaseMs: env.WEBHOOK_RETRY_BASE_MS,
    /** a delivery not done this long after its event is parked */
    webhookRetryWindowMs: env.WEBHOOK_RETRY_WINDOW_MS,
    webhookTimeoutMs: env.WEBHOOK_TIMEOUT_MS,
    /** an attempt silent this long is taken over by another process (its process died) */
    webhookClaimMs: env.WEBHOOK_CLAIM_MS,
    webhookQueueMax: env.WEBHOOK_QUEUE_MAX,
    webhookParkedMax: env.WEBHOOK_PARKED_MAX,
    /** receivers on loopback, private or link-local addresses: always outside production, there only with WEBHOOK_ALLOW_PRIVATE */
    webhookAllowPrivate: !production || env.WEBHOOK_ALLOW_PRIVATE,
    /** passkeys: `rpId` (RP_ID), `rpName` (RP_NAME), `rpOrigins` (PASSKEY_ORIGINS, else the allowed origins on rpId) */
    ...relyingParty(env, origins(env, corsOrigins).allowedOrigins, origins(env, corsOrigins).appOrigin),
    /** Under test, an error answer with a code its route's schema does not declare becomes a 500 (plugins/docs.ts). */
    checkProblemCodes: env.NODE_ENV === 'test'
  }
}

export type Config = ReturnType<typeof settings>

export class ConfigError extends Error {}

/**
 * The only place that reads the environment. Throws a ConfigError whose message is one
 * line naming the variable, so the process can print it and exit.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const converted = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw)) as Record<string, unknown>
  const error = Value.Errors(ConfigSchema, converted).First()
  if (error) {
    const name = error.path.replace(/^\//, '').split('/')[0] || 'environment'
    throw new ConfigError(`invalid configuration: ${name} ${error.message.toLowerCase()} (got ${JSON.stringify(raw[name] ?? null)})`)
  }
  const parsed = converted as Env
  if (parsed.NODE_ENV === 'production' && parsed.SESSION_SECRET === undefined) {
    throw new ConfigError('invalid configuration: SESSION_SECRET is required when NODE_ENV=production')
  }
  if (parsed.NODE_ENV === 'production' && parsed.DATA_ENCRYPTION_KEY === undefined) {
    throw new ConfigError('invalid configuration: DATA_ENCRYPTION_KEY is required when NODE_ENV=production')
  }
  // An open /metrics tells anyone the request rates, login outcomes and session count.
  if (parsed.NODE_ENV === 'production' && parsed.METRICS_TOKEN === undefined) {
    throw new ConfigError('invalid configuration: METRICS_TOKEN is required when NODE_ENV=production (GET /metrics wants it as a bearer token)')
  }
  if (parsed.HTTP_HEADERS_TIMEOUT_MS > parsed.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('invalid configuration: HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS')
  }
  let dataKeys: KeyRing
  try {
    // A development key dies with the process: 2FA enrolments made under it stop opening.
    dataKeys = parsed.DATA_ENCRYPTION_KEY === undefined ? ephemeralKeyRing() : parseKeyRing(parsed.DATA_ENCRYPTION_KEY)
  } catch (err) {
    throw new ConfigError(`invalid configuration: DATA_ENCRYPTION_KEY ${(err as Error).message}`)
  }
  let oauthProviders: ProviderSpec[]
  try {
    oauthProviders = parseProviders(parsed.OAUTH_PROVIDERS, { production: parsed.NODE_ENV === 'production' })
  } catch (err) {
    throw new ConfigError(`invalid configuration: OAUTH_PROVIDERS ${(err as Error).message}`)
  }
  if (parsed.WEBHOOK_CLAIM_MS <= parsed.WEBHOOK_TIMEOUT_MS) {
    throw new ConfigError('invalid configuration: WEBHOOK_CLAIM_MS must exceed WEBHOOK_TIMEOUT_MS (an attempt still running must not be taken over)')
  }
  let webhooks: WebhookEndpoint[]
  try {
    webhooks = parseEndpoints(parsed.WEBHOOKS, { allowPrivate: parsed.NODE_ENV !== 'production' || parsed.WEBHOOK_ALLOW_PRIVATE })
  } catch (err) {
    throw new ConfigError(`invalid configuration: WEBHOOKS ${(err as Error).message}`)
  }
  return settings(parsed, dataKeys, oauthProviders, webhooks)
}
