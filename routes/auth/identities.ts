import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AuthError } from '../../src/http/errors.js'
import { BODY, CSRF, GUARD, answer, noContent, problems } from '../../src/http/schemas.js'
import { tag } from '../../src/http/tags.js'

export const IdentitySchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'the link\'s handle, for DELETE /identities/{id}' }),
  provider: Type.String({ description: 'the `id` of a configured provider' }),
  email: Type.Union([Type.String(), Type.Null()], { description: 'the address the provider gave, when it gave one' }),
  linkedAt: Type.String({ format: 'date-time' })
}, { $id: 'Identity', additionalProperties: false })

export const IdentityListSchema = Type.Object({
  identities: Type.Array(IdentitySchema)
}, { $id: 'IdentityList', additionalProperties: false })

/** The provider identities linked to the signed-in account. */
const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/identities', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'listIdentities',
      tags: tag('oauth'),
      summary: 'The identities from other providers linked to this account',
      response: { 200: answer('The linked identities, oldest first', IdentityListSchema), ...problems(GUARD) }
    }
  }, async (request) => {
    const list = await app.oauth.identities.list(request.user!.id)
    return { identities: list.map(i => ({ id: i.id, provider: i.provider, email: i.email, linkedAt: i.linkedAt })) }
  })

  app.delete('/identities/:id', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'unlinkIdentity',
      tags: tag('oauth'),
      summary: 'Unlink an identity',
      description: 'Refused (409 LAST_SIGN_IN_METHOD) when the account has no password and this is its only identity.',
      params: Type.Object({ id: Type.String({ format: 'uuid', maxLength: 36 }) }, { additionalProperties: false }),
      response: { 204: noContent('Unlinked'), ...problems(BODY, CSRF, GUARD, 'NOT_FOUND', 'LAST_SIGN_IN_METHOD') }
    }
  }, async (request, reply) => {
    const userId = request.user!.id
    // The provider's name for the event, read before the identity is gone.
    const provider = (await app.oauth.identities.list(userId)).find(i => i.id === request.params.id)?.provider
    const result = await app.oauth.identities.unlink(userId, request.params.id)
    if (result === 'unknown') throw new AuthError('NOT_FOUND', 'No such linked identity.')
    if (result === 'last') throw new AuthError('LAST_SIGN_IN_METHOD', 'This is the only way to sign in to this account: set a password first.')
    request.log.info({ userId }, 'identity unlinked')
    await app.events.emit({ type: 'identity.unlinked', userId, ...app.events.origin(request), data: { provider: provider ?? null } })
    return await reply.code(204).send(null)
  })
}

export default routes
