// expect: {"http_reqs.count": 2, "check:discarded": [1, 0], "check:asked for text": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';

export const options = { discardResponseBodies: true };

export default function () {
  check(http.get(`${__ENV.BASE}/`), { discarded: (r) => r.body === null && r.status === 200 });
  check(http.get(`${__ENV.BASE}/`, { responseType: 'text' }), { 'asked for text': (r) => r.body === 'ok' });
}
