/**
 * What a CA certificate must be before Tether makes it a Roles Anywhere trust anchor
 * (`#link/certificates`): certificates built here with node-forge and Node's keys.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { checkCaCertificate, MAX_COMMON_NAME, workloadCommonName } from '#link/certificates';
import { generateClusterCa } from '#resources/roles-anywhere';

const DAY = 86_400_000;
const PATH = '/identity/caCertificate';
const NOW = new Date();

/** A self-signed certificate with the given key size, digest, CA flag and validity. */
function selfSigned({
  bits = 2048,
  digest = 'sha256',
  ca = true,
  from = new Date(NOW.getTime() - DAY),
  to = new Date(NOW.getTime() + DAY),
}: {
  bits?: number;
  digest?: 'sha256' | 'sha1';
  ca?: boolean;
  from?: Date;
  to?: Date;
} = {}): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = from;
  cert.validity.notAfter = to;
  const name = [{ name: 'commonName', value: 'test ca' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: 'basicConstraints', cA: ca, critical: true }]);
  const oid =
    digest === 'sha1'
      ? '1.2.840.113549.1.1.5'
      : (forge.pki.oids.sha256WithRSAEncryption ?? '1.2.840.113549.1.1.11');
  cert.siginfo.algorithmOid = oid;
  cert.signatureOid = oid;
  const getTbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 })
    .getTBSCertificate;
  const tbs = forge.asn1.toDer(getTbs(cert)).getBytes();
  cert.signature = sign(digest, Buffer.from(tbs, 'binary'), privateKey).toString('binary');
  return forge.pki.certificateToPem(cert);
}

const refusal = (pem: string, at: Date = NOW) => {
  const checked = checkCaCertificate(pem, PATH, at);
  return 'problems' in checked ? checked.problems.map((p) => p.message).join('; ') : undefined;
};

describe('checkCaCertificate', () => {
  it('accepts the CA Tether generates, with its SHA-256 fingerprint', () => {
    const ca = generateClusterCa({ accountId: '111111111111', region: 'ap-southeast-1', cluster: 'c' });
    const checked = checkCaCertificate(ca.certificatePem, PATH, NOW);
    expect('info' in checked && checked.info.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a certificate that is not a CA', () => {
    expect(refusal(selfSigned({ ca: false }))).toContain('is not a CA certificate');
  });

  it('refuses an expired CA and one not valid yet', () => {
    expect(refusal(selfSigned({ to: new Date(NOW.getTime() - 1000) }))).toContain('expired on');
    expect(
      refusal(selfSigned({ from: new Date(NOW.getTime() + DAY), to: new Date(NOW.getTime() + 2 * DAY) })),
    ).toContain('is not valid before');
  });

  it('refuses a weak RSA key and a SHA-1 signature', () => {
    expect(refusal(selfSigned({ bits: 1024 }))).toContain('its RSA key has 1024 bits');
    expect(refusal(selfSigned({ digest: 'sha1' }))).toContain('SHA-1 or MD5');
  });

  it('refuses a private key, without echoing it, and text that is not one certificate', () => {
    const ca = generateClusterCa({ accountId: '111111111111', region: 'ap-southeast-1', cluster: 'c' });
    const withKey = refusal(`${ca.certificatePem}${ca.privateKeyPem}`);
    expect(withKey).toContain('holds a private key');
    expect(withKey).not.toContain('BEGIN');
    expect(refusal(ca.privateKeyPem)).toContain('holds a private key');
    expect(refusal('hello')).toContain('is not a PEM certificate');
    expect(refusal(`${ca.certificatePem}${ca.certificatePem}`)).toContain('holds 2 certificates');
    expect(refusal('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).toContain(
      'not a readable',
    );
  });
});

describe('workloadCommonName', () => {
  it('is the service account and namespace, within X.509’s 64 characters for ordinary names', () => {
    expect(workloadCommonName({ namespace: 'billing', serviceAccount: 'reader' })).toBe('reader.billing');
    expect(MAX_COMMON_NAME).toBe(64);
  });
});
