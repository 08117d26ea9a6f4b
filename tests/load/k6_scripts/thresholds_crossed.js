import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 3,
  thresholds: { checks: ['rate==1'], http_req_duration: ['p(95)<60000'] },
};

export default function () {
  const res = http.get(`${__ENV.BASE}/status/404`);
  check(res, { 'is 200': (r) => r.status === 200 });
}
