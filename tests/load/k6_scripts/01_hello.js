// expect: {"http_reqs.count": 5, "iterations.count": 5, "check:status is 200": [5, 0], "http_req_failed.rate": 0}
import http from 'k6/http';
import { check } from 'k6';

export const options = { vus: 2, iterations: 5 };

export default function () {
  const res = http.get(`${__ENV.BASE}/`);
  check(res, { 'status is 200': (r) => r.status === 200 });
}
