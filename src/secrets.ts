/**
 * Secret values (connection strings, tokens) are registered here as they are read, so that
 * every log line and error message can be scrubbed of them before it leaves the process.
 */
const secrets = new Set<string>();

export function registerSecret(value: string): void {
  if (value.length < 4) return;
  secrets.add(value);
  // A URL's password also appears on its own, e.g. in a driver's error message.
  try {
    const password = decodeURIComponent(new URL(value).password);
    if (password.length >= 4) secrets.add(password);
  } catch {
    // not a URL: nothing more to register
  }
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  // Credentials in any URL we did not register, e.g. one echoed back by a server.
  return out.replace(urlCredentials, '://***:***@');
}

/**
 * `user:password@` right after a `://`. The pattern starts with that literal rather than the
 * scheme, so that a long line with no URL is a linear scan: a leading `[a-z][a-z0-9+.-]*` was
 * retried at every letter, quadratic in the line's length. Redacting after any `://` is the safe side.
 */
const urlCredentials = /:\/\/[^/\s:@]+:[^/\s@]+@/g;
