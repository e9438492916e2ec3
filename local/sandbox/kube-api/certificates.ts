/**
 * A cluster's Kubernetes API serving certificates: a per-cluster CA (what EKS returns as
 * `certificateAuthority.data`, base64 of the PEM: EKS API reference, Certificate) and a
 * serving certificate for the endpoint, signed by it. `node-forge` builds the X.509
 * structures (Node's crypto cannot issue certificates); the RSA-2048 keys and signatures
 * are Node's own, many times faster than forge's JavaScript RSA.
 */
import { createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import type { ClusterCaState } from '#local/sandbox/state';
import { positiveSerial, selfSignedCa, signCertificate } from '#link/certificates';

const DAY = 86_400_000;

async function rsaKeys(): Promise<{ privateKey: KeyObject; publicKey: forge.pki.PublicKey; pem: string }> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return {
    privateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A positive serial number of 9 bytes. */
const serial = () => positiveSerial(9);

/** A new CA for `clusterName`, valid ten years (as EKS's cluster CAs are). */
export async function newClusterCa(clusterName: string, now: Date = new Date()): Promise<ClusterCaState> {
  const keys = await rsaKeys();
  const cert = selfSignedCa({
    publicKey: keys.publicKey,
    privateKey: keys.privateKey,
    subject: { commonName: 'kubernetes', organizationName: `tether-sandbox ${clusterName}` },
    serialNumber: serial(),
    notBefore: new Date(now.getTime() - DAY),
    notAfter: new Date(now.getTime() + 3650 * DAY),
  });
  return { keyPkcs8: Buffer.from(keys.pem).toString('base64'), certPem: forge.pki.certificateToPem(cert) };
}

/** A serving certificate for 127.0.0.1 and localhost signed by `ca`: `{ key, cert }` PEMs for `https.createServer`. */
export async function servingCertificate(
  ca: ClusterCaState,
  now: Date = new Date(),
): Promise<{ key: string; cert: string }> {
  const caKey = createPrivateKey(Buffer.from(ca.keyPkcs8, 'base64').toString('utf8'));
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const keys = await rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - DAY);
  cert.validity.notAfter = new Date(now.getTime() + 365 * DAY);
  cert.setSubject([{ name: 'commonName', value: 'kube-apiserver' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 7, ip: '127.0.0.1' },
        { type: 2, value: 'localhost' },
        { type: 2, value: 'kubernetes.default.svc' },
      ],
    },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  signCertificate(cert, caKey);
  return { key: keys.pem, cert: forge.pki.certificateToPem(cert) };
}
