// expect: {"iterations.count": 3, "check:cookies kept across iterations": [3, 0]}
import http from 'k6/http';
import { check } from 'k6';

export const options = { vus: 1, iterations: 3, noCookiesReset: true };

export default function () {
  const r = http.get(`${__ENV.BASE}/cookie/echo`);
  check(r, { 'cookies kept across iterations': (x) => x.body === (__ITER === 0 ? '' : 'session=abc123; other=x') });
  http.get(`${__ENV.BASE}/cookie/set`);
}
