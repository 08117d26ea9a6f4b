// expect: {"iterations.count": 12, "check:completed counts this VU's own": [12, 0], "check:vus": [12, 0], "check:duration grows": [12, 0], "check:none interrupted": [12, 0], "check:the shortcut scenario": [12, 0]}
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';

export const options = { vus: 2, iterations: 12 };

// per VU (each VU has its own context, as in k6)
let mine = 0;
let lastDuration = -1;

export default function () {
  const done = exec.instance.iterationsCompleted;
  const duration = exec.instance.currentTestRunDuration;
  http.get(`${__ENV.BASE}/`);
  check(done, { "completed counts this VU's own": (d) => Number.isInteger(d) && d >= mine && d <= 11 });
  check(exec.instance, {
    vus: (i) => i.vusInitialized === 2 && i.vusActive >= 1 && i.vusActive <= 2,
    'none interrupted': (i) => i.iterationsInterrupted === 0,
  });
  check(duration, { 'duration grows': (d) => d > 0 && d > lastDuration && d < 60000 });
  lastDuration = duration;
  // options {vus, iterations} are k6's shared-iterations scenario 'default'
  check(exec.scenario, { 'the shortcut scenario': (s) => s.name === 'default' && s.executor === 'shared-iterations' });
  mine += 1;
}
