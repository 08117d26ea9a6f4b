// expect: {"same": ["http_reqs.count", "iterations.count"], "iterations.count": [2, 100000], "vus_max.value": 2}
import http from 'k6/http';
import { sleep } from 'k6';

export const options = { vus: 2, duration: '1s' };

export default function () {
  http.get(`${__ENV.BASE}/`);
  sleep(0.05);
}
