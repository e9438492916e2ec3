/**
 * A self-managed issuer's documents as an anonymous reader (IAM, STS) finds them: the paths
 * Tether publishes under the issuer, and the read-back verify makes
 * (docs/architecture.md#oidc-publishing-for-self-managed-clusters). No S3 client here: only
 * HTTPS reads, so verify's bundles do not carry one.
 */
import type { OidcPublishing } from './deps';

export const DISCOVERY_PATH = '.well-known/openid-configuration';
export const JWKS_PATH = 'keys.json';

/**
 * Reads the issuer's documents as an anonymous reader does and says whether they serve the
 * registered keys (verify's hop `published-discovery`).
 */
export async function checkPublished(
  publishing: Pick<OidcPublishing, 'fetchPublic'>,
  issuer: string,
  kids: readonly string[],
): Promise<{ ok: boolean; detail: string }> {
  const discovery = await publishing.fetchPublic(`${issuer}/${DISCOVERY_PATH}`);
  if (discovery.status !== 200)
    return { ok: false, detail: `GET ${DISCOVERY_PATH} answers ${discovery.status}` };
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    doc = JSON.parse(discovery.body ?? '') as typeof doc;
  } catch {
    return { ok: false, detail: 'the discovery document is not JSON' };
  }
  if (doc.issuer !== issuer)
    return { ok: false, detail: `the discovery document names issuer ${String(doc.issuer)}` };
  if (doc.jwks_uri !== `${issuer}/${JWKS_PATH}`)
    return { ok: false, detail: `the discovery document's jwks_uri is ${String(doc.jwks_uri)}` };
  const jwks = await publishing.fetchPublic(String(doc.jwks_uri));
  if (jwks.status !== 200) return { ok: false, detail: `GET ${JWKS_PATH} answers ${jwks.status}` };
  let served: string[];
  try {
    served = ((JSON.parse(jwks.body ?? '') as { keys?: { kid?: string }[] }).keys ?? []).map(
      (k) => k.kid ?? '',
    );
  } catch {
    return { ok: false, detail: 'the JWKS is not JSON' };
  }
  const missing = kids.filter((k) => !served.includes(k));
  if (missing.length)
    return { ok: false, detail: `the served JWKS lacks the registered keys ${missing.join(', ')}` };
  return { ok: true, detail: `${issuer} serves its discovery document and the keys ${kids.join(', ')}` };
}
