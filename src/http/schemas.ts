import { OptionalKind, Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox'
import { ERRORS, type ErrorCode } from './errors.js'
import { SIGN_IN_METHODS } from '../events/catalogue.js'

/*
 * Schemas with an `$id` are the named components of the OpenAPI document: the docs plugin
 * replaces each with a `$ref`, so a generated client gets one `User` type, not twenty.
 * Only response schemas carry an `$id` (Ajv, which compiles the request schemas, would
 * register each one globally).
 */

const ErrorCodeSchema = Type.Unsafe<ErrorCode>({ type: 'string', enum: Object.keys(ERRORS), description: 'stable, upper-snake: switch on this' })

export const ProblemSchema = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  code: ErrorCodeSchema,
  fieldErrors: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()), { description: 'VALIDATION_FAILED only: messages by field (`email`, `password`, ...)' })),
  formErrors: Type.Optional(Type.Array(Type.String(), { description: 'VALIDATION_FAILED only: messages about the body as a whole' }))
}, { $id: 'Problem', description: 'RFC 9457 problem document', additionalProperties: false })

const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()])

export const UserSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  username: Nullable(Type.String()),
  firstName: Nullable(Type.String()),
  lastName: Nullable(Type.String()),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  organizationId: Nullable(Type.String()),
  emailVerified: Type.Boolean(),
  mfaEnabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
}, { $id: 'User', additionalProperties: false })

export const MessageSchema = Type.Object({ message: Type.String() }, { $id: 'Message', additionalProperties: false })

export const SessionSummarySchema = Type.Object({
  expiresAt: Type.String({ format: 'date-time', description: 'when this session (or, with a bearer token, this access token) ends unless renewed' })
}, { $id: 'SessionSummary', additionalProperties: false })

const Time = Type.String({ format: 'date-time' })

export const SessionInfoSchema = Type.Object({
  id: Type.String({ description: 'public handle: never the cookie value or a token' }),
  kind: Type.Union([Type.Literal('cookie'), Type.Literal('token')], { description: '`cookie`: a browser session; `token`: a bearer token family (one POST /token login and its refreshes)' }),
  createdAt: Time,
  lastSeenAt: Time,
  expiresAt: Time,
  ip: Type.String(),
  userAgent: Type.String(),
  method: Type.Union(SIGN_IN_METHODS.map(m => Type.Literal(m)), { description: 'how this session or token family signed in' }),
  current: Type.Boolean({ description: 'true for the session or token family this request was made with' })
}, { $id: 'SessionInfo', additionalProperties: false })

/** One entry of the session list (GET /api/auth/sessions). */
export type SessionInfo = Static<typeof SessionInfoSchema>

export const SessionListSchema = Type.Object({
  sessions: Type.Array(SessionInfoSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null on the last page' })
}, { $id: 'SessionList', additionalProperties: false })

export const EmailSchema = Type.String({ minLength: 3, maxLength: 254, description: 'an email address; trimmed, NFKC-normalised and lower-cased by the server' })
export const PasswordSchema = Type.String({ minLength: 8, maxLength: 128, description: '8 to 128 characters, not a common password' })
/** For passwords being checked rather than set: an over-long one is refused before hashing. */
export const AnyPasswordSchema = Type.String({ minLength: 1, maxLength: 128 })
export const EmailedTokenSchema = Type.String({ minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' })

/*
 * Problem codes by where they come from, for `problems(...)`. Each route lists what it can
 * answer; under test an onSend check (plugins/docs.ts) turns any other code into a 500, so
 * a list cannot silently fall behind the code.
 */
/** Any request body: not JSON (415), not valid JSON or not the schema (400), too large (413). */
export const BODY: readonly ErrorCode[] = ['VALIDATION_FAILED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE']
/** A state-changing request with the session cookie from a foreign origin, or without its CSRF token. */
export const CSRF: readonly ErrorCode[] = ['CSRF_REJECTED']
/** The guard, `onRequest: app.authenticate`. */
export const GUARD: readonly ErrorCode[] = ['UNAUTHENTICATED']
/** The admin guard, `onRequest: app.authenticateAdmin`: signed in, and with the admin role. */
export const ADMIN_GUARD: readonly ErrorCode[] = ['UNAUTHENTICATED', 'FORBIDDEN']
/** `config.rateLimit` or a back-off. */
export const LIMITED: readonly ErrorCode[] = ['RATE_LIMITED']
/** Every route: Redis unreachable, or a bug. */
export const ALWAYS: readonly ErrorCode[] = ['SERVICE_UNAVAILABLE', 'INTERNAL']

/** The problem document of one status, its `code` narrowed to the codes a route declared. */
export type ProblemResponseSchema = ReturnType<typeof problemOf>

function problemOf (codes: ErrorCode[]) {
  return Type.Object({
    ...ProblemSchema.properties,
    code: Type.Unsafe<ErrorCode>({ type: 'string', enum: codes })
  }, { additionalProperties: false })
}

/**
 * The error responses of a route, by status, from the codes it can answer with (ALWAYS is
 * added). The OpenAPI document builds each status's `code` enum, description and
 * examples from these schemas.
 */
export function problems (...groups: Array<ErrorCode | readonly ErrorCode[]>): Record<number, ProblemResponseSchema> {
  const codes = new Set<ErrorCode>([...groups.flat(), ...ALWAYS])
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    if (!codes.has(code)) continue
    const status = ERRORS[code].status
    byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }
  const out: Record<number, ProblemResponseSchema> = {}
  for (const [status, list] of byStatus) out[status] = problemOf(list)
  return out
}

/** The codes a response schema made by `problems()` allows; undefined for any other schema. */
export function declaredCodes (schema: unknown): ErrorCode[] | undefined {
  const code = (schema as { properties?: { code?: { enum?: unknown } } } | undefined)?.properties?.code
  if (code === undefined || !Array.isArray(code.enum)) return undefined
  return code.enum as ErrorCode[]
}

export interface HeaderDoc { type: 'string' | 'integer', description: string }

export const SET_SESSION_COOKIE: Record<string, HeaderDoc> = {
  'Set-Cookie': { type: 'string', description: 'The new session cookie: `sessionId=<signed opaque id>; Max-Age=604800; Path=/; HttpOnly; SameSite=Strict` (with `Secure` in production). Any earlier session id of this browser is no longer valid.' }
}
export const CLEAR_SESSION_COOKIE: Record<string, HeaderDoc> = {
  'Set-Cookie': { type: 'string', description: 'The session cookie, expired (when the request carried one).' }
}

/**
 * A success response with what the OpenAPI document says about it: its description, and
 * the headers it sets. Only documentation is added; the schema itself is unchanged.
 */
export function answer<T extends TSchema> (description: string, schema: T, headers?: Record<string, HeaderDoc>): T {
  return { ...schema, 'x-response-description': description, ...(headers === undefined ? {} : { headers }) }
}

/** An empty 204 answer. */
export function noContent (description: string, headers?: Record<string, HeaderDoc>): TUnsafe<null> {
  return answer(description, Type.Unsafe<null>({ type: 'null' }), headers)
}

/**
 * A route body declared `Type.Optional(...)`: the request may come without one (`curl -X POST`).
 * Fastify would refuse a missing body against an object schema, and @fastify/swagger marks
 * every body required; plugins/json-body.ts and plugins/docs.ts read this to do otherwise.
 */
export function isOptionalBody (schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && (schema as Record<symbol, unknown>)[OptionalKind] === 'Optional'
}
