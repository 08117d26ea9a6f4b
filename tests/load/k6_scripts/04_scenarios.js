// expect: {"iterations{scenario:shared}.count": 6, "iterations{scenario:pervu}.count": 4, "iterations{scenario:constant}.count": [1, 100000], "iterations{scenario:ramping}.count": [1, 100000], "iterations{scenario:arrival}.count": [1, 11], "iterations{scenario:rampingarrival}.count": [1, 100000], "same": ["http_reqs.count", "iterations.count"], "check:right scenario": ["iterations.count", 0]}
import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';

export const options = {
  scenarios: {
    shared: { executor: 'shared-iterations', vus: 2, iterations: 6, exec: 'shared' },
    pervu: { executor: 'per-vu-iterations', vus: 2, iterations: 2, exec: 'pervu' },
    constant: { executor: 'constant-vus', vus: 1, duration: '1s', exec: 'paced' },
    ramping: { executor: 'ramping-vus', startVUs: 0, stages: [{ duration: '500ms', target: 2 }], exec: 'paced', gracefulRampDown: '0s' },
    arrival: { executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s', duration: '1s', preAllocatedVUs: 2, exec: 'arrival' },
    rampingarrival: { executor: 'ramping-arrival-rate', startRate: 2, timeUnit: '1s', preAllocatedVUs: 2, stages: [{ duration: '1s', target: 6 }], exec: 'arrival' },
  },
};

function hit(name) {
  http.get(`${__ENV.BASE}/`);
  check(exec.scenario.name, { 'right scenario': (n) => n === name || (name === 'paced' && (n === 'constant' || n === 'ramping')) || (name === 'arrival' && (n === 'arrival' || n === 'rampingarrival')) });
}
export function shared() { hit('shared'); }
export function pervu() { hit('pervu'); }
export function paced() { hit('paced'); sleep(0.1); }
export function arrival() { hit('arrival'); }
