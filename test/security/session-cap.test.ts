import t from 'tap'
import { PASSWORD, signedInUser, uniqueEmail } from '../helper.js'
import { burst, ip, target } from './attack.js'

// Issue 14: 2,000 logins made a 437 KB session list. Over a real socket, from many addresses
// at once, the documented maximum holds, the oldest give way, and the list comes in pages.
t.test('a burst of logins from many addresses leaves at most MAX_SESSIONS_PER_USER sessions, the newest, listed in pages', async t => {
  const s = await target(t, { MAX_SESSIONS_PER_USER: '5' })
  const user = await signedInUser(s, uniqueEmail('session-cap'))
  const answers = await burst(40, async i => await s.send(ip(20 + i), 'POST', '/api/auth/login', { email: user.email, password: PASSWORD }, { 'user-agent': `burst-${i}` }))
  t.ok(answers.every(a => a.status === 200), `every login succeeds (${answers.map(a => a.status).join(' ')})`)
  const cookies = answers.map(a => a.cookie as string)
  const live: string[] = []
  for (const cookie of cookies) {
    if ((await s.send(ip(1), 'GET', '/api/auth/me', undefined, { cookie })).status === 200) live.push(cookie)
  }
  t.equal(live.length, 5, 'exactly the maximum is live, however the logins raced')
  t.equal((await s.send(ip(1), 'GET', '/api/auth/me', undefined, { cookie: user.cookie })).status, 401, 'the session from before the burst, the oldest, ended first')

  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page = await s.send(ip(1), 'GET', `/api/auth/sessions?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, undefined, { cookie: live[0] })
    t.equal(page.status, 200)
    t.ok(page.body.sessions.length <= 2, 'a page holds at most `limit` sessions')
    seen.push(...(page.body.sessions as Array<{ id: string }>).map(x => x.id))
    cursor = page.body.nextCursor
  } while (cursor !== null)
  t.equal(seen.length, 5, 'the pages list the five live sessions')
  t.equal(new Set(seen).size, 5, 'each once')
})
