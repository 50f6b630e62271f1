// Printable forms of URLs: kept apart from the HTTP layer so the schemas can name a URL they
// reject without loading undici.

const SECRET_PARAMS = /^(x-goog-signature|x-goog-credential|upload_id|signature|sig|token|access_token|x-amz-signature|x-amz-credential)$/i;

/**
 * A URL safe to print: secrets in the query (signatures, credentials, resumable upload ids) are
 * replaced by `REDACTED`. On a foreign (storage) origin every query value is treated as secret
 * except a few harmless signing parameters.
 */
export function redactUrl(url: string, apiOrigin?: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "(invalid URL)";
  }
  u.username = "";
  u.password = "";
  const foreign = apiOrigin !== undefined && u.origin !== apiOrigin;
  const harmless = /^(x-goog-algorithm|x-goog-date|x-goog-expires|x-goog-signedheaders|type|status)$/i;
  for (const key of [...u.searchParams.keys()]) {
    if (SECRET_PARAMS.test(key) || (foreign && !harmless.test(key))) u.searchParams.set(key, "REDACTED");
  }
  return u.toString();
}

