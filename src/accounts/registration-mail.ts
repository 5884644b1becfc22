import { message, type MailMessage } from '../mail/templates.js'

export function verifyEmailMessage (to: string, appOrigin: string, token: string, hours: number): MailMessage {
  return message(to, 'Verify your email address', [
    'Welcome to Gatehouse.',
    `Confirm that this is your address to finish creating your account. The link works once, for ${hours} hours.`,
    'If you did not sign up, ignore this message.'
  ], { url: `${appOrigin}/verify-email?token=${token}`, label: 'Verify your email address' })
}

export function alreadyRegisteredMessage (to: string, appOrigin: string): MailMessage {
  return message(to, 'Someone tried to register with your address', [
    'Someone, perhaps you, tried to create a Gatehouse account with this email address, which already has an account.',
    'If it was you, sign in instead. If you forgot your password, reset it from the sign-in page.',
    'If it was not you, you can ignore this message: your account is unchanged.'
  ], { url: `${appOrigin}/`, label: 'Sign in' })
}

export function usernameTakenMessage (to: string, appOrigin: string, username: string): MailMessage {
  return message(to, 'Your registration did not complete', [
    `The username "${username}" is already taken, so no account was created.`,
    'Register again with another username, or without one.'
  ], { url: `${appOrigin}/`, label: 'Register again' })
}
