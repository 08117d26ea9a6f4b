// expect: {"iterations.count": 4, "check:__VU in the VU's init code": [4, 0], "check:__ITER": [4, 0]}
import { check } from 'k6';

export const options = { vus: 2, iterations: 4 };

// k6 runs each VU's init code with __VU set to that VU's id (0 only where the options are read)
const initVu = __VU;
const users = ['ada', 'bob', 'cyd'];
const user = users[__VU % users.length];

export default function () {
  check(initVu, { "__VU in the VU's init code": (v) => v === __VU && v > 0 && user === users[__VU % users.length] });
  check(__ITER, { '__ITER': (i) => i >= 0 && i < 4 });
}
