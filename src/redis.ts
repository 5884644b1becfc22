import { Redis, Cluster, type RedisOptions } from 'ioredis'
import type { Config } from './config.js'

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
export function redisOptions (config: Pick<Config, 'REDIS_COMMAND_TIMEOUT_MS'>): RedisOptions {
  return {
    enableOfflineQueue: false,
    commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: Math.max(config.REDIS_COMMAND_TIMEOUT_MS, 2000),
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableAutoPipelining: true,
    lazyConnect: true,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000)
  }
}

export function createRedis (config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'REDIS_COMMAND_TIMEOUT_MS'>): RedisClient {
  const options = redisOptions(config)
  if (config.REDIS_CLUSTER_NODES !== undefined) {
    const nodes = config.REDIS_CLUSTER_NODES.split(',').map(hostPort => {
      const i = hostPort.lastIndexOf(':')
      return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) }
    })
    return new Cluster(nodes, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      lazyConnect: true,
      clusterRetryStrategy: options.retryStrategy,
      redisOptions: options
    })
  }
  if (config.REDIS_URL === undefined) throw new Error('REDIS_URL or REDIS_CLUSTER_NODES must be set')
  return new Redis(config.REDIS_URL, options)
}

/** Errors that mean "the store cannot be reached", as opposed to a bug in a command. */
export function isRedisUnavailable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const e = err as Error & { code?: string }
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true
  if (e.code !== undefined && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTCONN'].includes(e.code)) return true
  return /Command timed out|Stream isn't writeable|Connection is closed|enableOfflineQueue|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|None of startup nodes is available|Failed to refresh slots cache/.test(e.message)
}
