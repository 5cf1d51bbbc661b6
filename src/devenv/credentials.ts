import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface User {
  name: string;
  groups: string[];
}

/**
 * Writes the service-account signing key pair. Node's crypto makes the same PEM files
 * `openssl genrsa` / `openssl rsa -pubout` would, without needing the openssl binary.
 */
export async function writeServiceAccountKeys(dir: string): Promise<{ key: string; pub: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const key = join(dir, 'sa.key');
  const pub = join(dir, 'sa.pub');
  await writeFile(key, privateKey, { mode: 0o600 });
  await writeFile(pub, publicKey);
  return { key, pub };
}

export function newToken(): string {
  return randomBytes(24).toString('hex');
}

/** The static token file of kube-apiserver's --token-auth-file: token,user,uid,"group1,group2". */
export function tokensCsv(entries: readonly { token: string; user: User }[]): string {
  return entries
    .map(({ token, user }) => {
      for (const field of [user.name, ...user.groups]) {
        if (/[",\n]/.test(field)) throw new Error(`user or group name not allowed in tokens.csv: ${JSON.stringify(field)}`);
      }
      const groups = user.groups.length > 0 ? `,"${user.groups.join(',')}"` : '';
      return `${token},${user.name},${user.name}${groups}\n`;
    })
    .join('');
}

/** A kubeconfig for a bearer token; the API server's certificate is self-signed, so TLS is not verified. */
export function kubeconfigYaml(server: string, user: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fledge-local', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: `${user}@fledge-local`, context: { cluster: 'fledge-local', user } }],
    'current-context': `${user}@fledge-local`,
  });
}
