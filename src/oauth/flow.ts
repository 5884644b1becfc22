import type { RedisClient } from '../redis/client.js'
import { digest, randomToken } from '../crypto/secrets.js'

/** What the callback needs to finish a flow the start route began. */
export interface FlowState {
  provider: string
  /** sent to the provider; the callback's `state` must be this exact value */
  state: string
  nonce: string
  codeVerifier: string
  /** an absolute URL on APP_ORIGIN or a CORS origin, already checked */
  returnTo: string
  /** digest of the browser's binding cookie: a flow finishes only in the browser that began it */
  binding: string
  /** set when a signed-in user links a new identity instead of signing in */
  linkUserId?: string
}

/**
 * Flows waiting for the browser's return, at `<prefix>oauth:flow:<digest(state)>` for a few
 * minutes. GETDEL makes each single use: of two callbacks with one state, one gets the flow.
 */
export class FlowStore {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly ttlMs: number

  constructor (redis: RedisClient, prefix: string, ttlMs: number) {
    this.#redis = redis
    this.#prefix = prefix
    this.ttlMs = ttlMs
  }

  key (state: string): string { return `${this.#prefix}oauth:flow:${digest(state)}` }

  async save (flow: FlowState): Promise<void> {
    await this.#redis.set(this.key(flow.state), JSON.stringify(flow), 'PX', this.ttlMs)
  }

  /** The flow of `state`, removed in the same command; null when unknown, used or expired. */
  async take (state: string): Promise<FlowState | null> {
    const raw = await this.#redis.getdel(this.key(state))
    if (raw === null) return null
    const flow = JSON.parse(raw) as FlowState
    // The key is a digest: make sure the flow really is the one of this state.
    return flow.state === state ? flow : null
  }
}

/**
 * A sign-in handed to a page on another origin: the callback cannot set that page's session
 * cookie (an SPA's SameSite=None cookie is partitioned under the SPA's site, and the
 * callback is a top-level visit to the API's), so it passes a one-time token in the URL
 * fragment and the page redeems it with a credentialed POST. 60 seconds, single use, kept
 * as a digest.
 */
export class HandoffStore {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly ttlMs = 60_000

  constructor (redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
  }

  key (token: string): string { return `${this.#prefix}oauth:handoff:${digest(token)}` }

  async issue (userId: string): Promise<string> {
    const token = randomToken(32)
    await this.#redis.set(this.key(token), userId, 'PX', this.ttlMs)
    return token
  }

  async take (token: string): Promise<string | null> {
    return await this.#redis.getdel(this.key(token))
  }
}
