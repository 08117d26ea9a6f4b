// expect: {"iterations.count": 3, "check:cookies kept across iterations": [3, 0], "check:in exec.test.options": [3, 0]}
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';

export const options = { vus: 1, iterations: 3, noCookiesReset: true };

export default function () {
  const r = http.get(`${__ENV.BASE}/cookie/echo`);
  check(r, { 'cookies kept across iterations': (x) => x.body === (__ITER === 0 ? '' : 'session=abc123; other=x') });
  http.get(`${__ENV.BASE}/cookie/set`);
  check(exec.test.options, { 'in exec.test.options': (o) => o.noCookiesReset === true && o.iterations === 3 });
}
