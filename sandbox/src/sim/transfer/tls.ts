/**
 * A self-signed TLS certificate for a simulator listening with HTTPS, made once and kept, as a freshly installed
 * XCP-ng host makes its own (RSA 2048, CN = the host name, subjectAltName = its names and addresses, ten years).
 * Node cannot make certificates, so the `openssl` command line does; a missing `openssl` is a clear error.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

/** A key, its certificate (PEM) and the certificate's SHA-256 fingerprint (`AA:BB:…`, as clients pin it). */
export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  readonly fingerprint256: string;
}

/** The SHA-256 fingerprint of a PEM certificate. */
export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/**
 * The certificate kept in `dir` (`key.pem`, `cert.pem`), made there first when absent, for `names` (the first is
 * the common name; IP addresses go into the subjectAltName as IPs).
 */
export function selfSignedCertificate(dir: string, names: readonly string[]): TlsMaterial {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const unique = [...new Set(names.filter((n) => n !== ''))];
    const cn = unique.find((n) => isIP(n) === 0) ?? unique[0] ?? 'localhost';
    const san = unique.map((n) => (isIP(n) === 0 ? `DNS:${n}` : `IP:${n}`)).join(',');
    const tmpKey = `${keyFile}.${String(process.pid)}.tmp`;
    const tmpCert = `${certFile}.${String(process.pid)}.tmp`;
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-sha256',
          '-days',
          '3650',
          '-subj',
          `/CN=${cn.replace(/[/\\=+,]/g, '_')}`,
          '-addext',
          `subjectAltName=${san}`,
          '-keyout',
          tmpKey,
          '-out',
          tmpCert,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
      );
      chmodSync(tmpKey, 0o600);
      renameSync(tmpKey, keyFile);
      renameSync(tmpCert, certFile);
    } catch (e) {
      rmSync(tmpKey, { force: true });
      rmSync(tmpCert, { force: true });
      const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
      if (err.code === 'ENOENT')
        throw new Error(
          'xenlab sim: HTTPS needs a certificate and `openssl` was not found to make one; install openssl, ' +
            'or pass your own key and certificate (startSimulator({ https: { key, cert } }))',
          { cause: e },
        );
      const detail = err.stderr?.toString('utf8').trim() ?? err.message;
      throw new Error(`xenlab sim: openssl could not make a certificate in ${dir}: ${detail}`, { cause: e });
    }
  }
  const key = readFileSync(keyFile, 'utf8');
  const cert = readFileSync(certFile, 'utf8');
  return { key, cert, fingerprint256: fingerprintOf(cert) };
}
