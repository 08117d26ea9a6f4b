import http from 'k6/http';
import { check } from 'k6';

// run by test_k6_client_options.py: options.headers (assay's, beside k6's userAgent) on every request
export const options = { iterations: 1, userAgent: 'MyUA/1.0', headers: { 'X-Suite': 'nightly' } };

export default function () {
  const sent = (r) => r.json().headers['x-suite'] === 'nightly' && r.json().headers['user-agent'] === 'MyUA/1.0';
  check(http.get(`${__ENV.APP}/echo`, {}), { 'with params': sent });
  check(http.post(`${__ENV.APP}/echo`, 'x'), { 'post': sent });
  check(http.get(`${__ENV.APP}/echo`), { 'plain get': sent });
}
