// expect: {"iterations.count": 3, "http_reqs.count": 12, "check:fresh jar each iteration": [3, 0], "check:own jar kept": [3, 0], "check:cookie within the iteration": [3, 0]}
import http from 'k6/http';
import { check } from 'k6';

// k6 empties the VU's cookie jar before each iteration (unless noCookiesReset); a jar made with
// new http.CookieJar() keeps its cookies
export const options = { vus: 1, iterations: 3 };
const mine = new http.CookieJar();

export default function () {
  check(http.get(`${__ENV.BASE}/cookie/echo`), { 'fresh jar each iteration': (r) => r.body === '' });
  check(http.get(`${__ENV.BASE}/cookie/echo`, { jar: mine }), { 'own jar kept': (r) => r.body === (__ITER === 0 ? '' : 'mine=1') });
  mine.set(`${__ENV.BASE}/`, 'mine', '1');
  http.get(`${__ENV.BASE}/cookie/set`);
  check(http.get(`${__ENV.BASE}/cookie/echo`), { 'cookie within the iteration': (r) => r.body === 'session=abc123; other=x' });
}
