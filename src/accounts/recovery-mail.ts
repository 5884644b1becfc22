import { message, type MailMessage } from '../mail/templates.js'

export function passwordResetMessage (to: string, appOrigin: string, token: string, minutes: number): MailMessage {
  return message(to, 'Reset your Gatehouse password', [
    'Someone, hopefully you, asked to reset the password of the Gatehouse account with this address.',
    `Choose a new password with the link below. It works once, for ${minutes} minutes; asking again makes this link useless.`,
    'Resetting signs you out everywhere.',
    'If you did not ask for this, ignore this message: your password stays as it is.'
  ], { url: `${appOrigin}/reset-password?token=${token}`, label: 'Choose a new password' })
}

export function passwordChangedMessage (to: string, appOrigin: string, how: 'reset' | 'change', at: Date): MailMessage {
  return message(to, 'Your Gatehouse password was changed', [
    `The password of your Gatehouse account was ${how === 'reset' ? 'reset with an emailed link' : 'changed from a signed-in session'} at ${at.toISOString()}.`,
    how === 'reset' ? 'Every session of the account was signed out.' : 'Every other session of the account was signed out.',
    'If this was you, there is nothing to do.',
    'If it was not you, reset your password now and check the account: someone may have access to it or to this mailbox.'
  ], { url: `${appOrigin}/`, label: 'Open Gatehouse' })
}
