// expect: {"http_reqs.count": 7, "iterations.count": 4, "check:token from setup": [4, 0], "check:whoami": [4, 0], "check:login in setup": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';

export const options = { vus: 2, iterations: 4 };

export function setup() {
  const res = http.post(`${__ENV.APP}/login`, JSON.stringify({ user: 'ada' }), { headers: { 'Content-Type': 'application/json' } });
  check(res, { 'login in setup': (r) => r.status === 200 });
  return { token: res.headers['X-Session'], started: Date.now() };
}

export default function (data) {
  check(data, { 'token from setup': (d) => d.token === 'tok-ada' });
  const res = http.get(`${__ENV.APP}/whoami`, { headers: { Authorization: `Bearer ${data.token}` } });
  check(res, { whoami: (r) => r.json('user') === 'ada' });
}

export function teardown(data) {
  http.post(`${__ENV.APP}/echo`, JSON.stringify({ done: data.token }));
  http.get(`${__ENV.APP}/items`);
}
