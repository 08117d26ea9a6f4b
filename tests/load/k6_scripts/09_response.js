// expect: {"http_reqs.count": 2, "check:status": [1, 0], "check:body": [1, 0], "check:json selector": [1, 0], "check:json array length": [1, 0], "check:json names": [1, 0], "check:headers": [1, 0], "check:timings": [1, 0], "check:url": [1, 0], "check:status_text": [1, 0], "check:gzip decoded": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  const res = http.get(`${__ENV.BASE}/json`);
  check(res, {
    status: (r) => r.status === 200,
    body: (r) => typeof r.body === 'string' && r.body.includes('"id": 7'),
    'json selector': (r) => r.json('id') === 7 && r.json('items.1.name') === 'b',
    'json array length': (r) => r.json('items.#') === 2,
    'json names': (r) => JSON.stringify(r.json('items.#.name')) === '["a","b"]',
    headers: (r) => r.headers['Content-Type'] === 'application/json',
    timings: (r) => r.timings.duration > 0 && r.timings.waiting >= 0 && 'blocked' in r.timings,
    url: (r) => r.url === `${__ENV.BASE}/json`,
    status_text: (r) => r.status_text === '200 OK',
  });
  const gz = http.get(`${__ENV.BASE}/gzip`);
  check(gz, { 'gzip decoded': (r) => r.body.startsWith('hello gzip') });
}
