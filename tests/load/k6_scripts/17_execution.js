// expect: {"iterations.count": 4, "check:ids agree": [4, 0], "check:scenario": [4, 0], "check:iteration numbers": [4, 0], "http_reqs{mytag:set-by-script}.count": 4}
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';

export const options = { scenarios: { main: { executor: 'per-vu-iterations', vus: 2, iterations: 2 } } };

export default function () {
  exec.vu.tags.mytag = 'set-by-script';
  check(exec.vu.idInTest, { 'ids agree': (id) => id === __VU && id >= 1 && id <= 2 });
  check(exec.scenario, { scenario: (s) => s.name === 'main' && s.executor === 'per-vu-iterations' });
  check(exec.vu.iterationInScenario, { 'iteration numbers': (i) => i === __ITER && i < 2 });
  http.get(`${__ENV.BASE}/`);
}
