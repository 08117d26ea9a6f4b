import http from 'k6/http';
import { check, group, sleep, fail } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend, Rate } from 'k6/metrics';

// Run by tests/load/test_k6_parity.py under per-vu-iterations (iterations one at a time) and
// constant-vus (iterations in the VU's greenlet, answered from response callbacks): every
// metric, tag, group, check and error per iteration must be the same.
const orders = new Counter('orders');
const waits = new Trend('wait_ms', true);
const even = new Rate('even_iterations');
const numbered = new Counter('numbered');
let last = -1;

const main = __ENV.EXECUTOR === 'constant-vus'
  ? { executor: 'constant-vus', vus: 2, duration: '1s' }
  : { executor: 'per-vu-iterations', vus: 2, iterations: 12 };
main.tags = { suite: 'parity' };
export const options = { scenarios: { main } };

export default function () {
  check(__ITER, {
    'iteration numbers': (i) => i === last + 1 && exec.vu.iterationInScenario === i && exec.vu.idInTest === __VU,
    'scenario': () => exec.scenario.name === 'main' && exec.scenario.executor === __ENV.EXECUTOR && exec.vu.tags.suite === 'parity',
  });
  const n = exec.scenario.iterationInTest;  // unique among all VUs' iterations
  if (n < 20) numbered.add(1, { n: String(n) });
  last = __ITER;
  check(http.get(`${__ENV.BASE}/`), { 'plain get': (r) => r.status === 200 && r.body === 'ok' });
  group('shop', () => {
    check(http.get(`${__ENV.BASE}/json`), { 'json in group': (r) => r.json('items.#') === 2 });
    group('pay', () => { http.post(`${__ENV.BASE}/echo`, 'x', { tags: { name: 'pay' } }); });
  });
  const [, missing] = http.batch([`${__ENV.BASE}/`, ['GET', `${__ENV.BASE}/status/404`]]);
  check(missing, { 'batch 404': (r) => r.status === 404 && r.error_code === 1404 });
  orders.add(2, { kind: 'card' });
  waits.add(10);
  even.add(__ITER % 2 === 0);
  check(http.get(`${__ENV.BASE}/cookie/echo`), { 'fresh cookie jar': (r) => r.body === '' });
  http.get(`${__ENV.BASE}/cookie/set`);
  exec.vu.tags.phase = 'late';
  sleep(0.001);
  if (__ITER % 4 === 1) fail(`thrown ${__ITER % 4}`);
  if (__ITER % 4 === 3) return Promise.reject(new Error('rejected'));
}
