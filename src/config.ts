import { randomBytes } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ephemeralKeyRing, parseKeyRing, type KeyRing } from './crypto/box.js'
import { parseProviders, type ProviderSpec } from './oauth/providers.js'

const Seconds = (def: number) => Type.Integer({ minimum: 1, default: def })

export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
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
  ACCESS_TOKEN_TTL: Seconds(900),
  REFRESH_TOKEN_TTL: Seconds(2592000),
  COOKIE_SAMESITE: Type.Union([Type.Literal('Strict'), Type.Literal('Lax'), Type.Literal('None')], { default: 'Strict' }),
  COOKIE_DOMAIN: Type.Optional(Type.String({ minLength: 1 })),
  APP_ORIGIN: Type.String({ pattern: '^https?://[^/\\s]+$', default: 'http://localhost:3000' }),
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
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), { default: 'info' }),
  // Sign-in with other identity providers (src/oauth/). OAUTH_PROVIDERS is a JSON array or
  // `@path` to a JSON file, checked by parseProviders (whose errors never echo a secret).
  OAUTH_PROVIDERS: Type.Optional(Type.String({ minLength: 1 })),
  OAUTH_AUTO_CREATE: Type.Boolean({ default: true }),
  OAUTH_FLOW_TTL: Type.Integer({ minimum: 30, maximum: 3600, default: 600 }),
  OAUTH_HTTP_TIMEOUT: Type.Integer({ minimum: 1, maximum: 60, default: 10 }),
  // The public origin of this server, where providers send the browser back; APP_ORIGIN when unset.
  OAUTH_REDIRECT_ORIGIN: Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+$' }))
}, { additionalProperties: true })

export type Config = Static<typeof ConfigSchema> & {
  SESSION_SECRET: string
  corsOrigins: string[]
  /** Fastify's trustProxy value derived from TRUST_PROXY */
  trustProxy: boolean | number
  /** DATA_ENCRYPTION_KEY parsed (a random one-process key in development when unset) */
  dataKeys: KeyRing
  /** OAUTH_PROVIDERS parsed, presets filled in */
  oauthProviders: ProviderSpec[]
}

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
  const cfg = converted as Static<typeof ConfigSchema>
  if (cfg.NODE_ENV === 'production' && cfg.SESSION_SECRET === undefined) {
    throw new ConfigError('invalid configuration: SESSION_SECRET is required when NODE_ENV=production')
  }
  if (cfg.NODE_ENV === 'production' && cfg.DATA_ENCRYPTION_KEY === undefined) {
    throw new ConfigError('invalid configuration: DATA_ENCRYPTION_KEY is required when NODE_ENV=production')
  }
  let dataKeys: KeyRing
  try {
    // A development key dies with the process: 2FA enrolments made under it stop opening.
    dataKeys = cfg.DATA_ENCRYPTION_KEY === undefined ? ephemeralKeyRing() : parseKeyRing(cfg.DATA_ENCRYPTION_KEY)
  } catch (err) {
    throw new ConfigError(`invalid configuration: DATA_ENCRYPTION_KEY ${(err as Error).message}`)
  }
  let oauthProviders: ProviderSpec[]
  try {
    oauthProviders = parseProviders(cfg.OAUTH_PROVIDERS, { production: cfg.NODE_ENV === 'production' })
  } catch (err) {
    throw new ConfigError(`invalid configuration: OAUTH_PROVIDERS ${(err as Error).message}`)
  }
  return {
    ...cfg,
    dataKeys,
    oauthProviders,
    // A development secret dies with the process, which is what development wants.
    SESSION_SECRET: cfg.SESSION_SECRET ?? randomBytes(32).toString('base64url'),
    // In the form browsers send in Origin (lower case, no default port), for CORS and CSRF.
    corsOrigins: cfg.CORS_ORIGINS === '' ? [] : cfg.CORS_ORIGINS.split(',').map(o => new URL(o).origin),
    trustProxy: cfg.TRUST_PROXY === 'off' ? false : cfg.TRUST_PROXY === 'on' ? true : cfg.TRUST_PROXY
  }
}
