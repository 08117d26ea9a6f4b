// expect: {"http_reqs.count": 3, "http_reqs{name:${}/status/${}}.count": 3}
import http from 'k6/http';

export const options = { iterations: 3 };

export default function () {
  const codes = [200, 201, 202];
  http.get(http.url`${__ENV.BASE}/status/${codes[__ITER % 3]}`);
}
