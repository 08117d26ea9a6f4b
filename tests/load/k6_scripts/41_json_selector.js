// expect: {"http_reqs.count": 2, "check:not json": [1, 0], "check:key": [1, 0], "check:index": [1, 0], "check:length": [1, 0], "check:each": [1, 0], "check:missing": [1, 0], "check:query refused": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';

export const options = { iterations: 1 };

export default function () {
  const res = http.get(`${__ENV.BASE}/json`);  // {"id": 7, "items": [{"name": "a"}, {"name": "b"}]}
  check(res, {
    key: (r) => r.json('id') === 7,
    index: (r) => r.json('items.1.name') === 'b',
    length: (r) => r.json('items.#') === 2,
    each: (r) => JSON.stringify(r.json('items.#.name')) === '["a","b"]',
    missing: (r) => r.json('items.5.name') === undefined && r.json('nope.deeper') === undefined,
  });
  check(http.get(`${__ENV.BASE}/`), { 'not json': (r) => r.json('id') === undefined });  // as k6: no throw with a selector
  let refused = '';
  try { res.json('items.#(name=="b").name'); } catch (e) { refused = e.message; }
  check(refused, { 'query refused': (m) => m.includes('GJSON queries #(...)') });
}
