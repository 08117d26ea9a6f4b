import http from 'k6/http';
import { group } from 'k6';
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '0s' } } };
export default function () {
  group('g', () => {
    try { http.get(`${__ENV.BASE}/delay/3000`); } catch (e) { http.get(`${__ENV.BASE}/`); }
  });
}
