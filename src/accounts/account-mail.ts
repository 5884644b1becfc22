import { message, type MailMessage } from '../mail/templates.js'

export function confirmEmailChangeMessage (to: string, appOrigin: string, token: string, hours: number): MailMessage {
  return message(to, 'Confirm your new email address', [
    'Someone, hopefully you, asked to move a Gatehouse account to this address.',
    `Confirm it with the link below. It works once, for ${hours} hours; the account keeps its old address until then.`,
    'If you did not ask for this, ignore this message.'
  ], { url: `${appOrigin}/confirm-email?token=${token}`, label: 'Confirm the new address' })
}

export function emailChangeNoticeMessage (to: string, appOrigin: string, token: string, newEmail: string, stage: 'requested' | 'changed', hours: number): MailMessage {
  return message(to, stage === 'requested' ? 'Your Gatehouse address is about to change' : 'Your Gatehouse address was changed', [
    stage === 'requested'
      ? `Someone signed in to your Gatehouse account asked to change its address to ${newEmail}. It changes once that address confirms.`
      : `The address of your Gatehouse account is now ${newEmail}.`,
    `If this was not you, use the link below within ${hours} hours: it undoes the change, keeps this address on the account and signs out every session. Then reset your password.`,
    'If it was you, there is nothing to do.'
  ], { url: `${appOrigin}/cancel-email-change?token=${token}`, label: 'This wasn\'t me' })
}

export function addressInUseMessage (to: string, appOrigin: string): MailMessage {
  return message(to, 'Someone tried to move an account to your address', [
    'Someone asked to move a Gatehouse account to this address, which already has an account, so nothing changed.',
    'If it was not you, you can ignore this message.'
  ], { url: `${appOrigin}/`, label: 'Open Gatehouse' })
}

export function accountDeletedMessage (to: string, appOrigin: string, by: 'owner' | 'admin'): MailMessage {
  return message(to, 'Your Gatehouse account was deleted', [
    by === 'owner' ? 'Your Gatehouse account was deleted at your request.' : 'An administrator deleted your Gatehouse account.',
    'Its sessions ended and what it held was removed; the address can be registered again.'
  ], { url: `${appOrigin}/`, label: 'Open Gatehouse' })
}
