/**
 * TLS material for test servers: a throwaway CA and a server certificate it signs for
 * 127.0.0.1/localhost, so clients verify the server the way they verify a real cluster
 * (certificate-authority-data), not with "insecure-skip-tls-verify". EC keys: fast to make.
 */
import { generate } from 'selfsigned';

export interface TestCertificates {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function createTestCertificates(commonName: string): Promise<TestCertificates> {
  const ca = await generate([{ name: 'commonName', value: `${commonName}-ca` }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { caPem: ca.cert, certPem: server.cert, keyPem: server.private };
}
