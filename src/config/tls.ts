// The TLS files are read and tried at start, before anything listens: a wrong
// path, a file that is not PEM, or a key that does not match the certificate
// is a refused config (exit 2) naming the file, not a silent listen failure
// (uWS' SSLApp only reports that it could not listen).
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, readOwnerOnlyFile } from '../validation/index.js';

export interface TlsSettings {
  certFile: string | null;
  keyFile: string | null;
}

/** The files to hand to uWS' SSLApp, or null for plain HTTP; throws ConfigError for files that cannot serve. */
export function checkTlsFiles(tls: TlsSettings): { certFile: string; keyFile: string } | null {
  if (tls.certFile === null && tls.keyFile === null) return null;
  if (tls.certFile === null || tls.keyFile === null) {
    throw new ConfigError(['tls.certFile and tls.keyFile go together (--tls-cert and --tls-key): give both, or neither for plain HTTP']);
  }
  const cert = readPem(tls.certFile, 'tls.certFile (--tls-cert)', 'CERTIFICATE', false);
  // The key is a secret like the admin key: refused when group or others may read it.
  const key = readPem(tls.keyFile, 'tls.keyFile (--tls-key)', 'PRIVATE KEY', true);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new ConfigError([`tls: the key ${tls.keyFile} and the certificate ${tls.certFile} cannot serve together (${messageOf(error)})`]);
  }
  return { certFile: tls.certFile, keyFile: tls.keyFile };
}

function readPem(file: string, what: string, label: string, secret: boolean): string {
  let text: string;
  if (secret) text = readOwnerOnlyFile(file, what);
  else {
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError([`${what} ${file}: cannot be read (${messageOf(error)})`]);
    }
  }
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text)) {
    throw new ConfigError([`${what} ${file}: not a PEM ${label.toLowerCase()} (no "-----BEGIN … ${label}-----" line)`]);
  }
  return text;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
