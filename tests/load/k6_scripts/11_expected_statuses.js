// expect: {"http_reqs.count": 4, "http_req_failed.passes": 1, "http_req_failed.fails": 3}
import http from 'k6/http';

http.setResponseCallback(http.expectedStatuses(200, 404, { min: 300, max: 399 }));

export default function () {
  http.get(`${__ENV.BASE}/status/404`);
  http.get(`${__ENV.BASE}/status/500`);
  http.get(`${__ENV.BASE}/status/503`, { responseCallback: http.expectedStatuses(503) });
  http.get(`${__ENV.BASE}/`);
}
