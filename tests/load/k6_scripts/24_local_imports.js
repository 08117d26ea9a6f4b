// expect: {"http_reqs{name:helper-get}.count": 2, "check:helper ok": [2, 0], "check:default import": [2, 0], "check:re-export": [2, 0]}
import greet, { getOk, sum, DEFAULT_NAME as NAME } from './lib/helpers.js';
import * as math from './lib/math.js';
import { check } from 'k6';

export const options = { iterations: 2 };

export default function () {
  getOk(`${__ENV.BASE}/`);
  check(greet('k6'), { 'default import': (s) => s === 'hello k6' && NAME === 'helper-get' });
  check(sum(2, 3), { 're-export': (n) => n === 5 && math.sum(1, 1) === 2 });
}
