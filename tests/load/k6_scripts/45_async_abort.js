// expect: {"iterations.count": 4, "aborted": true, "errors": 0, "check:before": [4, 0], "check:after": [3, 0]}
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';

// exec.test.abort() inside an async default function: the run stops (exit 108), no error counted
export const options = { vus: 1, duration: '20s' };

export default async function () {
  await null;
  http.get(`${__ENV.BASE}/`);
  check(null, { before: () => true });
  if (__ITER === 3) exec.test.abort('enough, asynchronously');
  check(null, { after: () => true });
}
