import t from 'tap'
import { build, PASSWORD, signedInUser } from '../../helper.js'

t.test('a password change over a bearer token keeps that token family and ends every other session', async t => {
  const ctx = await build(t)
  const { app } = ctx
  const u = await signedInUser(ctx)
  const grant = (await app.inject({ method: 'POST', url: '/api/auth/token', payload: { email: u.email, password: PASSWORD } })).json()
  const other = (await app.inject({ method: 'POST', url: '/api/auth/token', payload: { email: u.email, password: PASSWORD } })).json()
  const bearer = { authorization: `Bearer ${grant.accessToken}` }

  const res = await app.inject({ method: 'POST', url: '/api/auth/password/change', headers: bearer, payload: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase 42' } })
  t.equal(res.statusCode, 200)
  t.notOk(res.headers['set-cookie'], 'no cookie for a bearer client')
  t.equal((await app.inject({ url: '/api/auth/me', headers: bearer })).statusCode, 200, 'this family lives on')
  t.equal((await app.inject({ url: '/api/auth/me', headers: { authorization: `Bearer ${other.accessToken}` } })).statusCode, 401, 'another family ended')
  t.equal((await app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })).statusCode, 401, 'the cookie session ended')
  const refreshed = await app.inject({ method: 'POST', url: '/api/auth/token/refresh', payload: { refreshToken: grant.refreshToken } })
  t.equal(refreshed.statusCode, 200, 'its refresh token still works')
})
