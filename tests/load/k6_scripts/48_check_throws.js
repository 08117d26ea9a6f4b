// expect: {"iterations.count": 2, "http_reqs.count": 2, "check:has id": [0, 2], "check:caught": [2, 0], "checks.passes": 2, "checks.fails": 2, "errors": 2, "error:TypeError: cannot read property 'id' of undefined": 2}
import http from 'k6/http';
import { check } from 'k6';

// as k6: a predicate that throws counts its check as failed and the exception goes on; the
// iteration's error unless caught; the checks after it in that call are not run
export const options = { iterations: 2 };

export default function () {
  const res = http.get(`${__ENV.BASE}/json`);  // {"id": 7, "items": [...]}: no 'missing' key
  let refused = '';
  try { check(res, { 'async': async () => true }); } catch (e) { refused = e.message; }
  check(refused, { caught: (m) => m.includes('does not support async functions') });
  check(res, {
    'has id': (r) => r.json().missing.id > 0,
    'never reached': () => true,
  });
  check(null, { after: () => true });
}
