// The enrollment link a supervisor's printed code carries as a QR code:
// fieldpost://enroll?intake=<address>&code=<code>. A QR scanner that types like a keyboard
// (or a paste) puts the whole link into the code field; the app takes both parts from it.
// Pure: tested without a DOM.

export interface EnrollLink {
  intake: string;
  code: string;
}

/** The intake address and code of an enrollment link, or null when `text` is not one. */
export function parseEnrollLink(text: string): EnrollLink | null {
  const trimmed = text.trim();
  if (!trimmed.toLowerCase().startsWith('fieldpost://enroll?')) return null;
  const params = new URLSearchParams(trimmed.slice(trimmed.indexOf('?') + 1));
  const intake = params.get('intake') ?? '';
  const code = params.get('code') ?? '';
  if (!/^https?:\/\/[^\s]+$/.test(intake) || code.trim() === '') return null;
  return { intake, code: code.trim() };
}
