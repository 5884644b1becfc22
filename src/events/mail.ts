import { message, type MailMessage } from '../mail/templates.js'
import type { EventType, SecurityEvent } from './catalogue.js'

/*
 * The events the account's owner is told about by mail, so that one they did not cause is
 * seen. Password changes and resets, 2FA changes and a linked identity are mailed by the
 * domain code that makes them (src/accounts/recovery.ts, src/mfa/, src/oauth/accounts.ts),
 * in the same request; these are the rest.
 */
const IF_NOT_YOU = 'If it was not you, change your password now and sign out everywhere (the sessions list of your account), then check your two-factor settings.'

interface SecurityMail {
  /** whether this event calls for the mail (default: every event of the type) */
  when?: (event: SecurityEvent) => boolean
  mail: (event: SecurityEvent, to: string, appOrigin: string) => MailMessage
}

const MAILS: Partial<Record<EventType, SecurityMail>> = {
  'session.signed_in': {
    when: event => event.data.newDevice === true,
    mail: (event, to, appOrigin) => message(to, 'New sign-in to your Gatehouse account', [
      `Your Gatehouse account was signed in to from a browser or device it has not been used from before, at ${new Date(event.at).toISOString()}.`,
      `Address: ${event.ip ?? 'unknown'}. Browser or app: ${event.userAgent ?? 'unknown'}.`,
      'If this was you, there is nothing to do.',
      IF_NOT_YOU
    ], { url: `${appOrigin}/`, label: 'Review your account' })
  },
  'user.email_changed': {
    mail: (event, to, appOrigin) => message(to, 'The address of your Gatehouse account changed', [
      `The email address of your Gatehouse account was changed at ${new Date(event.at).toISOString()}; mail now goes to this address.`,
      'If this was you, there is nothing to do.',
      IF_NOT_YOU
    ], { url: `${appOrigin}/`, label: 'Review your account' })
  },
  'passkey.added': {
    mail: (event, to, appOrigin) => message(to, 'A passkey was added to your Gatehouse account', [
      `A passkey${typeof event.data.name === 'string' ? ` ("${event.data.name}")` : ''} was added to your Gatehouse account at ${new Date(event.at).toISOString()}: it can now be used to sign in.`,
      'If this was you, there is nothing to do.',
      'If it was not you, remove it from your account\'s passkeys, change your password and sign out everywhere.'
    ], { url: `${appOrigin}/`, label: 'Review your account' })
  }
}

/**
 * Whether `event` calls for a mail: decided before the user is looked up for the address,
 * so the events that call for none (most sign-ins are from a known device) cost nothing.
 */
export function callsForMail (event: SecurityEvent): boolean {
  const entry = MAILS[event.type]
  return entry !== undefined && (entry.when?.(event) ?? true)
}

/** The mail `event` calls for, to the account's address `to`; null when it calls for none. */
export function securityMail (event: SecurityEvent, to: string, appOrigin: string): MailMessage | null {
  return callsForMail(event) ? (MAILS[event.type]?.mail(event, to, appOrigin) ?? null) : null
}
