// expect: {"http_reqs.count": 4, "http_reqs{name:echo-named}.count": 1, "http_reqs{kind:tagged}.count": 1, "check:header sent": [1, 0], "check:timed out": [1, 0], "check:no redirect followed": [1, 0], "check:basic auth from url": [1, 0], "http_reqs{error_code:1050}.count": 1}
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  const base = __ENV.BASE;
  const r1 = http.get(`${__ENV.APP}/echo`, { headers: { 'X-Trace': 'abc' }, tags: { name: 'echo-named', kind: 'tagged' } });
  check(r1, { 'header sent': (r) => r.json().headers['x-trace'] === 'abc' });
  const r2 = http.get(`${base}/delay/2000`, { timeout: '200ms' });
  check(r2, { 'timed out': (r) => r.status === 0 && r.error_code === 1050 });
  const r3 = http.get(`${base}/redirect/2`, { redirects: 0 });
  check(r3, { 'no redirect followed': (r) => r.status === 302 });
  const url = __ENV.APP.replace('http://', 'http://user:secret@') + '/echo';
  const r4 = http.get(url, { auth: 'basic' });
  check(r4, { 'basic auth from url': (r) => r.json().headers.authorization === 'Basic dXNlcjpzZWNyZXQ=' });
}
