/**
 * X.509 certificates of mode `roles-anywhere` (docs/architecture.md#identity-modes): what a
 * CA certificate must be before Tether makes it an IAM Roles Anywhere trust anchor, and the
 * certificate subject a workload's client certificate carries.
 *
 * Parsing and checks are Node's own `crypto.X509Certificate` (OpenSSL), and node-forge's
 * ASN.1 reader for the one field Node does not expose (the signature algorithm): no
 * hand-written ASN.1. A trust anchor's certificate must be a CA (basic constraints `CA:TRUE`, IAM Roles
 * Anywhere user guide, "Trust model": "the certificate must be a CA certificate … with
 * basicConstraints CA:true"), valid now, signed with SHA-256 or stronger, with an RSA key
 * of 2,048 bits or more or an EC key on P-256/P-384/P-521 (docs/aws-facts.md#roles-anywhere).
 */
import {
  createHash,
  createPrivateKey,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import forge from 'node-forge';

/** Why a PEM is refused as a trust anchor's CA certificate. */
export interface CertificateProblem {
  readonly path: string;
  readonly message: string;
}

/** What Tether keeps of a CA certificate it accepted. */
export interface CaCertificateInfo {
  /** The certificate, PEM, normalised (one certificate, `\n` line ends). */
  readonly pem: string;
  /** SHA-256 of the DER, lowercase hex: names the CA in the link and the membership. */
  readonly fingerprint: string;
  readonly subject: string;
  readonly notAfter: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** Any PEM private key: PKCS#8, PKCS#1 RSA, SEC1 EC, encrypted PKCS#8, OpenSSH. */
const PEM_PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?(?:ENCRYPTED )?PRIVATE KEY-----/;
const STRONG_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
/** Minimum RSA modulus a trust anchor accepts. */
export const MIN_RSA_BITS = 2048;

/** SHA-256 of a certificate's DER, lowercase hex. */
export function certificateFingerprint(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('hex');
}

/** SHA-256 of the certificate in a PEM, or undefined when it holds none Node can read. */
export function pemFingerprint(pem: string | undefined): string | undefined {
  try {
    return pem ? certificateFingerprint(new X509Certificate(pem)) : undefined;
  } catch {
    return undefined;
  }
}

/** Signature algorithms weaker than SHA-256: md5WithRSA, sha1WithRSA, dsa-with-sha1, ecdsa-with-SHA1. */
const WEAK_SIGNATURES = new Set([
  '1.2.840.113549.1.1.4',
  '1.2.840.113549.1.1.5',
  '1.2.840.10040.4.3',
  '1.2.840.10045.4.1',
]);

/** The certificate's signatureAlgorithm OID (RFC 5280 §4.1.1.2), read with node-forge's ASN.1 parser. */
function signatureAlgorithm(cert: X509Certificate): string | undefined {
  // Node exposes no signature-algorithm field (before Node 22.x); forge's ASN.1 reader parses
  // the DER without needing to understand the key (its certificate reader is RSA-only).
  try {
    const asn = forge.asn1.fromDer(forge.util.createBuffer(cert.raw.toString('binary')));
    const algorithm = (asn.value as forge.asn1.Asn1[])[1];
    const oid = (algorithm?.value as forge.asn1.Asn1[] | undefined)?.[0];
    return typeof oid?.value === 'string' ? forge.asn1.derToOid(oid.value) : undefined;
  } catch {
    return undefined;
  }
}

/** What is wrong with the key of `cert`, if anything. */
function keyProblem(cert: X509Certificate): string | undefined {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    return bits < MIN_RSA_BITS
      ? `its RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are required`
      : undefined;
  }
  if (key.asymmetricKeyType === 'ec') {
    return STRONG_CURVES.has(details.namedCurve ?? '')
      ? undefined
      : `its EC key is on ${details.namedCurve ?? 'an unknown curve'}; P-256, P-384 or P-521 are required`;
  }
  return `its ${key.asymmetricKeyType ?? 'unknown'} key is not RSA or EC`;
}

/**
 * Checks a CA certificate (PEM) for a trust anchor: exactly one certificate, no private
 * key in the text, a CA, valid at `now`, self-consistent (self-signed or not, the
 * signature algorithm is SHA-256 or stronger) and with a strong key.
 *
 * @example
 * const checked = checkCaCertificate(pem, '/identity/caCertificate', new Date());
 * if ('problems' in checked) throw …; else checked.info.fingerprint;
 */
export function checkCaCertificate(
  pem: string,
  path: string,
  now: Date,
): { info: CaCertificateInfo } | { problems: CertificateProblem[] } {
  const refuse = (message: string) => ({ problems: [{ path, message }] });
  if (PEM_PRIVATE_KEY.test(pem)) {
    // Said before anything else, and without echoing the text: the key must not travel further.
    return refuse('holds a private key: give the CA certificate only (the key stays with cert-manager)');
  }
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length !== 1) {
    return refuse(
      blocks.length === 0
        ? 'is not a PEM certificate (-----BEGIN CERTIFICATE-----)'
        : `holds ${blocks.length} certificates; give the one CA certificate`,
    );
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(blocks[0] ?? '');
  } catch {
    return refuse('is not a readable X.509 certificate');
  }
  if (!cert.ca)
    return refuse(`${cert.subject.replace(/\n/g, ', ')} is not a CA certificate (basicConstraints CA:TRUE)`);
  if (Date.parse(cert.validTo) <= now.getTime())
    return refuse(`expired on ${new Date(cert.validTo).toISOString()}`);
  if (Date.parse(cert.validFrom) > now.getTime())
    return refuse(`is not valid before ${new Date(cert.validFrom).toISOString()}`);
  const weakKey = keyProblem(cert);
  if (weakKey) return refuse(weakKey);
  const algorithm = signatureAlgorithm(cert);
  if (!algorithm || WEAK_SIGNATURES.has(algorithm))
    return refuse(
      `is signed with ${algorithm ?? 'an unreadable algorithm'} (SHA-1 or MD5); SHA-256 or stronger is required`,
    );
  return {
    info: {
      pem: `${cert.toString().trim()}\n`,
      fingerprint: certificateFingerprint(cert),
      subject: cert.subject.replace(/\n/g, ', '),
      notAfter: new Date(cert.validTo).toISOString(),
    },
  };
}

/** Longest common name X.509 allows (RFC 5280, ub-common-name). */
export const MAX_COMMON_NAME = 64;

/**
 * The common name of a workload's client certificate: `<serviceAccount>.<namespace>`. The
 * workload role's trust requires it (`aws:PrincipalTag/x509Subject/CN`), so a certificate
 * the same CA issued for another workload is refused.
 *
 * @example
 * workloadCommonName({ namespace: 'billing', serviceAccount: 'reader' }); // 'reader.billing'
 */
export function workloadCommonName(w: {
  readonly namespace: string;
  readonly serviceAccount: string;
}): string {
  return `${w.serviceAccount}.${w.namespace}`;
}

/**
 * Signs `cert` with `key` (SHA-256 with RSA) using Node's crypto: the CAs Tether makes for
 * mode roles-anywhere, and the sandbox's Kubernetes API certificates.
 */
export function signCertificate(cert: forge.pki.Certificate, key: KeyObject | string): void {
  const oid = forge.pki.oids.sha256WithRSAEncryption ?? '1.2.840.113549.1.1.11';
  cert.siginfo.algorithmOid = oid;
  cert.signatureOid = oid;
  // forge's own TBSCertificate encoding (`pki.getTBSCertificate`, untyped in @types/node-forge).
  const getTbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 })
    .getTBSCertificate;
  const tbs = forge.asn1.toDer(getTbs(cert)).getBytes();
  const k = typeof key === 'string' ? createPrivateKey(key) : key;
  cert.signature = sign('sha256', Buffer.from(tbs, 'binary'), k).toString('binary');
}

/** A positive serial number of `bytes` random bytes (the first byte below 0x80), as hex. */
export function positiveSerial(bytes: number): string {
  const b = randomBytes(bytes);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

/**
 * A self-signed CA certificate: `CA:TRUE` and key usage certificate and CRL signing (both
 * critical), a subject key identifier, signed with {@link signCertificate}: the CAs Tether
 * makes for mode roles-anywhere, and the sandbox's clusters' CAs.
 */
export function selfSignedCa(ca: {
  readonly publicKey: forge.pki.PublicKey;
  readonly privateKey: KeyObject;
  readonly subject: { readonly commonName: string; readonly organizationName: string };
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = ca.publicKey;
  cert.serialNumber = ca.serialNumber;
  cert.validity.notBefore = ca.notBefore;
  cert.validity.notAfter = ca.notAfter;
  const name = [
    { name: 'commonName', value: ca.subject.commonName },
    { name: 'organizationName', value: ca.subject.organizationName },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signCertificate(cert, ca.privateKey);
  return cert;
}
