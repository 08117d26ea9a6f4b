// expect: {"http_reqs.count": 4, "check:binary body": [2, 0], "check:json from binary": [2, 0], "check:none body": [2, 0], "checks{flow:bin}.passes": 4}
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 2 };
export default function () {
  const r = http.get(`${__ENV.BASE}/json`, { responseType: 'binary' });
  check(r, { 'binary body': (x) => x.body instanceof ArrayBuffer && x.body.byteLength > 10, 'json from binary': (x) => x.json('id') === 7 }, { flow: 'bin' });
  const n = http.get(`${__ENV.BASE}/json`, { responseType: 'none' });
  check(n, { 'none body': (x) => x.body === null });
}
