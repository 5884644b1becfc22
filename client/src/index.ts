export { createClient, GatehouseClient } from './client.js'
export type { ClientOptions, LoginResult, Mode, SessionEndEvent, SignedIn, Tokens } from './client.js'
export { GatehouseError, isGatehouseError } from './errors.js'
export type * from './api-types.js'
