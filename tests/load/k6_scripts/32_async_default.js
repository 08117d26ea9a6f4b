// expect: {"iterations.count": 3, "http_reqs.count": 3, "check:after await": [3, 0]}
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 3 };
export default async function () {
  const v = await Promise.resolve(5);
  const res = http.get(`${__ENV.BASE}/`);
  check(res, { 'after await': (r) => r.status === 200 && v === 5 });
}
