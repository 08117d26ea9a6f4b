// expect: {"http_reqs.count": 5, "check:server cookie sent back": [1, 0], "check:jar cookie sent": [1, 0], "check:jar lists": [1, 0], "check:res.cookies": [1, 0], "check:no jar": [1, 0], "check:request cookies": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  const base = __ENV.BASE;
  const set = http.get(`${base}/cookie/set`);
  check(set, { 'res.cookies': (r) => r.cookies.session[0].value === 'abc123' });
  check(http.get(`${base}/cookie/echo`), { 'server cookie sent back': (r) => r.body.includes('session=abc123') });
  const jar = http.cookieJar();
  jar.set(base, 'mine', 'v1');
  check(http.get(`${base}/cookie/echo`), { 'jar cookie sent': (r) => r.body.includes('mine=v1') });
  check(jar.cookiesForURL(`${base}/`), { 'jar lists': (c) => c.mine[0] === 'v1' && c.session[0] === 'abc123' });
  check(http.get(`${base}/cookie/echo`, { jar: new http.CookieJar() }), { 'no jar': (r) => r.body === '' });
  check(http.get(`${base}/cookie/echo`, { jar: new http.CookieJar(), cookies: { extra: 'x1' } }), { 'request cookies': (r) => r.body === 'extra=x1' });
}
