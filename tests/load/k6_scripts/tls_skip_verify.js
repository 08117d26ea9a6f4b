import http from 'k6/http';
import { check } from 'k6';

// run by test_k6_tls.py against a self-signed HTTPS server, with and without the option
export const options = { iterations: 2, insecureSkipTLSVerify: __ENV.SKIP_VERIFY === '1' };

export default function () {
  const res = http.get(`${__ENV.TLS}/`);
  check(res, {
    'answered over TLS': (r) => r.status === 200 && r.body === 'secure',
    'refused: unknown authority': (r) => r.status === 0 && r.error_code >= 1300 && r.error_code < 1400,
  });
}
