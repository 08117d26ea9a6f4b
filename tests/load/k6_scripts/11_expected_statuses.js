// expect: {"http_reqs.count": 4, "http_req_failed.passes": 1, "http_req_failed.fails": 3, "check:error_code 1000 + status": [1, 0], "check:no error_code below 400": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';

http.setResponseCallback(http.expectedStatuses(200, 404, { min: 300, max: 399 }));

export default function () {
  http.get(`${__ENV.BASE}/status/404`);
  const failed = http.get(`${__ENV.BASE}/status/500`);
  check(failed, { 'error_code 1000 + status': (r) => r.error_code === 1500 && r.error === '' });  // as k6 (an answer, no network error)
  http.get(`${__ENV.BASE}/status/503`, { responseCallback: http.expectedStatuses(503) });
  check(http.get(`${__ENV.BASE}/`), { 'no error_code below 400': (r) => r.error_code === 0 });
}
