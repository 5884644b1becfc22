import { AuthError } from '../http/errors.js'
import { parseName, parseUsername, type Role, type User, type UserRepository } from './users.js'

/** The fields a person changes on their own account; null clears one. */
export interface ProfileInput {
  username?: string | null
  firstName?: string | null
  lastName?: string | null
}

/** What an administrator may change besides: the role and the verified flag. */
export interface AdminProfileInput extends ProfileInput {
  role?: Role
  emailVerified?: boolean
}

/**
 * Validates as registration does (NFKC, bounded, nothing invisible, a username held by no
 * one else) and writes. The username goes first: a name that is taken leaves the rest
 * unwritten. Answers the user as stored afterwards.
 */
export async function updateProfile (users: UserRepository, user: User, input: AdminProfileInput): Promise<User> {
  const username = input.username === undefined || input.username === null ? input.username : parseUsername(input.username)
  const names: Partial<Pick<User, 'firstName' | 'lastName'>> = {}
  if (input.firstName !== undefined) names.firstName = parseName(input.firstName ?? '', 'firstName')
  if (input.lastName !== undefined) names.lastName = parseName(input.lastName ?? '', 'lastName')
  if (username !== undefined && await users.setUsername(user, username) === 'taken') {
    throw new AuthError('USERNAME_TAKEN', 'Another account has this username.')
  }
  const fields = {
    ...names,
    ...(input.role === undefined ? {} : { role: input.role }),
    ...(input.emailVerified === undefined ? {} : { emailVerified: input.emailVerified })
  }
  if (Object.keys(fields).length > 0) await users.update(user.id, fields)
  return await users.findById(user.id) ?? user
}
