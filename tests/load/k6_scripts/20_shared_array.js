// expect: {"http_reqs.count": 6, "check:user from file": [6, 0], "check:read only": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';

const users = new SharedArray('users', function () {
  return JSON.parse(open('./data/users.json'));
});

export const options = { vus: 2, iterations: 6 };

export default function () {
  const u = users[__ITER % users.length];
  const res = http.post(`${__ENV.APP}/login`, JSON.stringify({ user: u.user }), { headers: { 'Content-Type': 'application/json' } });
  check(res, { 'user from file': (r) => r.body.includes(`welcome ${u.user}`) });
  if (__ITER === 0 && __VU === 1) {
    let frozen = false;
    try { users[0].user = 'x'; } catch (e) { frozen = true; }
    check(users[0].user, { 'read only': (name) => name === 'ada' });
  }
}
