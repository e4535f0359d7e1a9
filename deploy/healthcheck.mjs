// The container's health probe: GET /readyz on loopback, in plain HTTP or, on a
// TLS port, over TLS without checking the certificate (the probe asks whether
// this process is ready, not who it is). Exit 0 when ready.
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';

const port = Number(process.env.CHAINLANES_PORT ?? 9001);
const probe = (get, options) =>
  new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/readyz', timeout: 2_000, ...options }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
const status = (await probe(httpGet, {})) ?? (await probe(httpsGet, { rejectUnauthorized: false }));
process.exit(status === 200 ? 0 : 1);
