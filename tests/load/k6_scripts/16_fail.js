// expect: {"iterations.count": 4, "http_reqs.count": 4, "errors": 2, "check:even": [2, 2]}
import http from 'k6/http';
import { check, fail } from 'k6';

export const options = { iterations: 4 };

export default function () {
  http.get(`${__ENV.BASE}/`);
  const ok = check(__ITER, { even: (i) => i % 2 === 0 });
  if (!ok) fail(`odd iteration ${__ITER}`);
}
