import { Redis, Cluster, type RedisOptions } from 'ioredis'
import type { Config } from '../config.js'

export type RedisClient = Redis | Cluster

/**
 * Options that make Redis trouble a fast, clean failure instead of a hang:
 * - no offline queue: while disconnected a command fails at once (the route answers 503)
 *   instead of waiting in memory for minutes;
 * - a command timeout bounds a stalled Redis (SIGSTOP, a long fork);
 * - commands in flight when the connection drops are not resent after reconnecting,
 *   because a write such as INCR or a session rotation must never be applied twice;
 * - reconnection goes on forever with a capped back-off, so the process heals by itself.
 */
export function redisOptions (config: Pick<Config, 'redisCommandTimeoutMs'>): RedisOptions {
  return {
    enableOfflineQueue: false,
    commandTimeout: config.redisCommandTimeoutMs,
    connectTimeout: Math.max(config.redisCommandTimeoutMs, 2000),
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableAutoPipelining: true,
    lazyConnect: true,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    // After a Sentinel failover the old master answers READONLY: reconnect (ioredis asks
    // the sentinels for the new master) but do not resend the failed command (1, not 2).
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY') ? 1 : false
  }
}

type RedisConfig = Pick<Config, 'redisUrl' | 'redisClusterNodes' | 'redisCommandTimeoutMs'> & Partial<Pick<Config, 'redisSentinels' | 'redisSentinelName'>>

/**
 * ioredis options for Sentinel: the sentinels are asked for the current master of
 * `REDIS_SENTINEL_NAME`. Credentials and the database number, if any, come from REDIS_URL
 * (its host and port are ignored then).
 */
export function sentinelOptions (config: RedisConfig): RedisOptions {
  if (config.redisSentinels === undefined) throw new Error('REDIS_SENTINELS is not set')
  const options: RedisOptions = {
    ...redisOptions(config),
    sentinels: config.redisSentinels,
    name: config.redisSentinelName ?? 'mymaster',
    role: 'master',
    sentinelRetryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000)
  }
  if (config.redisUrl !== undefined) {
    const url = new URL(config.redisUrl)
    if (url.username !== '') options.username = decodeURIComponent(url.username)
    if (url.password !== '') options.password = decodeURIComponent(url.password)
    const db = url.pathname.replace(/^\//, '')
    if (db !== '') options.db = Number(db)
    if (url.protocol === 'rediss:') options.tls = {}
  }
  return options
}

export function createRedis (config: RedisConfig): RedisClient {
  const options = redisOptions(config)
  if (config.redisClusterNodes !== undefined) {
    return new Cluster(config.redisClusterNodes, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      lazyConnect: true,
      clusterRetryStrategy: options.retryStrategy,
      redisOptions: options
    })
  }
  if (config.redisSentinels !== undefined) return new Redis(sentinelOptions(config))
  if (config.redisUrl === undefined) throw new Error('REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS must be set')
  return new Redis(config.redisUrl, options)
}

/** Errors that mean "the store cannot be reached", as opposed to a bug in a command. */
export function isRedisUnavailable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const e = err as Error & { code?: string }
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true
  if (e.code !== undefined && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTCONN'].includes(e.code)) return true
  return /Command timed out|Stream isn't writeable|Connection is closed|enableOfflineQueue|LOADING|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|None of startup nodes is available|All sentinels are unreachable|Failed to refresh slots cache/.test(e.message)
}

/** Whether the config names a Redis (single, Sentinel or Cluster); without one, a local redis-server is used. */
export function redisConfigured (config: Pick<Config, 'redisUrl' | 'redisClusterNodes' | 'redisSentinels'>): boolean {
  return config.redisUrl !== undefined || config.redisClusterNodes !== undefined || config.redisSentinels !== undefined
}
