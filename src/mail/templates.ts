/** One message as the domains write it: the layout below gives it a text and an HTML part. */
export interface MailMessage {
  to: string
  subject: string
  text: string
  html: string
}

function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}

/** Gatehouse's one mail layout: paragraphs, then an optional link shown as a button and as text. */
export function message (to: string, subject: string, lines: string[], link?: { url: string, label: string }): MailMessage {
  const text = [...lines, ...(link === undefined ? [] : ['', `${link.label}: ${link.url}`])].join('\n') + '\n'
  const html = '<!doctype html><html><body>' +
    lines.map(l => `<p>${escapeHtml(l)}</p>`).join('') +
    (link === undefined ? '' : `<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p><p>${escapeHtml(link.url)}</p>`) +
    '</body></html>'
  return { to, subject, text, html }
}
