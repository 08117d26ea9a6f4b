import http from 'k6/http';
import { check } from 'k6';

export const DEFAULT_NAME = 'helper-get';

export function getOk(url) {
  const res = http.get(url, { tags: { name: DEFAULT_NAME } });
  check(res, { 'helper ok': (r) => r.status === 200 });
  return res;
}

export default function greet(who) {
  return `hello ${who}`;
}

export { sum } from './math.js';
