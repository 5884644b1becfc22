import type { RedisSessionStore } from './store.js'
import type { TokenStore } from '../tokens/store.js'

/** The stores that hold a user's ways in: cookie sessions and bearer token families. */
export interface EndAllDeps {
  sessionStore: RedisSessionStore
  tokenStore: TokenStore
}

/**
 * Ends every cookie session and bearer token family of a user, except the one `keep` names
 * (a session digest, or a family id: see `currentKeep`). Everything that must end a user's
 * sessions goes through here: password reset and change, 2FA changes, logout-all,
 * disabling an account (CLI, or found disabled mid-session). A new kind of session is
 * added here, and so is ended by all of them. Answers how many were ended.
 */
export async function endAllSessions (deps: EndAllDeps, userId: string, keep?: string): Promise<number> {
  const [sessions, families] = await Promise.all([
    deps.sessionStore.destroyAllForUser(userId, keep),
    deps.tokenStore.endAllForUser(userId, keep)
  ])
  return sessions + families
}
