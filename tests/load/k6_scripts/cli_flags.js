import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';

// run by test_k6_cli.py with k6's run flags: the checks say what each process saw of them
export const options = { vus: 1, iterations: 4, summaryTrendStats: ['avg'] };

export default function () {
  const o = exec.test.options;
  check(exec.scenario, { 'executor': (s) => s.executor === __ENV.EXECUTOR });
  check(o, {
    'test.options': (x) => JSON.stringify(x.stages || null) === (__ENV.STAGES || 'null') && x.iterations === undefined
      && (x.userAgent || '') === (__ENV.UA || '') && (x.noConnectionReuse || false) === (__ENV.NO_REUSE === '1'),
  });
  const echoed = http.get(`${__ENV.BASE}/echo`).json().headers['user-agent'];
  check(echoed, { 'user agent': (ua) => !__ENV.UA || ua === __ENV.UA });
  const second = http.get(`${__ENV.BASE}/`);
  check(second, { 'connection reuse': (r) => (r.timings.connecting > 0) === (__ENV.NO_REUSE === '1') });
}
