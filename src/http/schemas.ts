import { Type, type TSchema } from '@sinclair/typebox'

export const ProblemSchema = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  code: Type.String(),
  fieldErrors: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))),
  formErrors: Type.Optional(Type.Array(Type.String()))
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
}, { additionalProperties: false })

export const MessageSchema = Type.Object({ message: Type.String() }, { additionalProperties: false })

export const SessionSummarySchema = Type.Object({
  expiresAt: Type.String({ format: 'date-time' })
}, { additionalProperties: false })

export const EmailSchema = Type.String({ minLength: 3, maxLength: 254, description: 'an email address; trimmed, NFKC-normalised and lower-cased by the server' })
export const PasswordSchema = Type.String({ minLength: 8, maxLength: 128, description: '8 to 128 characters, not a common password' })
/** For passwords being checked rather than set: an over-long one is refused before hashing. */
export const AnyPasswordSchema = Type.String({ minLength: 1, maxLength: 128 })
export const EmailedTokenSchema = Type.String({ minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' })

/** The documented error responses of a route, by status. */
export function errors (...statuses: number[]): Record<number, typeof ProblemSchema> {
  const out: Record<number, typeof ProblemSchema> = {}
  for (const s of [400, ...statuses, 503]) out[s] = ProblemSchema
  return out
}
