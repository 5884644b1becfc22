import { message, type MailMessage } from '../mail/templates.js'

export function signInCodeMessage (to: string, appOrigin: string, code: string, token: string, minutes: number): MailMessage {
  return message(to, `Your Gatehouse sign-in code: ${code}`, [
    'Someone, hopefully you, asked to sign in to the Gatehouse account with this address without a password.',
    `Your sign-in code is ${code}. Type it on the sign-in page, or open the link below. Both work once, for ${minutes} minutes; asking again makes them useless.`,
    'Never give this code to anyone: whoever has it can sign in as you.',
    'If you did not ask for this, ignore this message: nobody can sign in without it.'
  ], { url: `${appOrigin}/sign-in?token=${token}`, label: 'Sign in' })
}
