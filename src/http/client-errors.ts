import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { problem, sendProblem, toProblem } from './problem.js'

/**
 * Fastify's `frameworkErrors`: errors found while routing (a URL that does not decode, an
 * over-long parameter) get the same problem documents as errors in a handler.
 */
export function frameworkErrors (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  request.log.info({ code: err.code }, 'request refused before routing')
  sendProblem(reply, toProblem(err))
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before there is a request
 * (headers too large, a malformed request line, a request that did not arrive within
 * requestTimeout) is answered with a problem document on the raw socket, then the socket
 * is closed: after a parse error the rest of the stream cannot be trusted.
 */
export function clientErrorHandler (this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const p = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? problem('REQUEST_TIMEOUT', 'The request did not arrive in time.')
    : err.code === 'HPE_HEADER_OVERFLOW'
      ? problem('REQUEST_HEADERS_TOO_LARGE', 'The request headers are too large.')
      : problem('VALIDATION_FAILED', 'The request is not valid HTTP.', { fieldErrors: {}, formErrors: ['malformed request'] })
  this.log.info({ code: err.code }, 'client error')
  if (socket.writable) {
    const body = JSON.stringify(p)
    socket.write(`HTTP/1.1 ${p.status} ${STATUS_CODES[p.status] ?? ''}\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}
