// expect: {"same": ["http_reqs.count", "iterations.count"], "iterations.count": [1, 100000]}
import http from 'k6/http';
import { sleep } from 'k6';

export const options = {
  stages: [
    { duration: '500ms', target: 3 },
    { duration: '500ms', target: 0 },
  ],
};

export default function () {
  http.get(`${__ENV.BASE}/`);
  sleep(0.05);
}
