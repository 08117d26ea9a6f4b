// expect: {"iterations.count": [3, 30], "aborted": true, "errors": 0}
import http from 'k6/http';
import exec from 'k6/execution';

export const options = { vus: 1, duration: '20s' };

export default function () {
  http.get(`${__ENV.BASE}/`);
  if (__ITER === 2) exec.test.abort('enough seen');
}
