import { message, type MailMessage } from '../mail/templates.js'

export type MfaChange = 'enabled' | 'disabled' | 'backup-codes'

const WHAT: Record<MfaChange, string> = {
  enabled: 'Two-factor authentication was turned on',
  disabled: 'Two-factor authentication was turned off',
  'backup-codes': 'New backup codes were made (the old ones no longer work)'
}

/** Told to the owner on every change of the second factor, so a change they did not make is seen. */
export function mfaChangedMessage (to: string, appOrigin: string, change: MfaChange, at: Date): MailMessage {
  return message(to, 'Your Gatehouse two-factor settings changed', [
    `${WHAT[change]} for your Gatehouse account at ${at.toISOString()}.`,
    'Every other session of the account was signed out.',
    'If this was you, there is nothing to do.',
    'If it was not you, reset your password now: someone has access to your account.'
  ], { url: `${appOrigin}/`, label: 'Open Gatehouse' })
}
