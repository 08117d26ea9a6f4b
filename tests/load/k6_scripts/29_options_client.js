// expect: {"http_reqs.count": 3, "check:user agent": [1, 0], "check:scenario tag": [1, 0], "http_reqs{team:checkout}.count": 3, "check:new connection each time": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 1,
  userAgent: 'MyK6UserAgentString/1.0',
  tags: { team: 'checkout' },
  summaryTrendStats: ['avg', 'min', 'max', 'p(99)'],
  noConnectionReuse: true,
  insecureSkipTLSVerify: true,
};

export default function () {
  check(http.get(`${__ENV.APP}/echo`), { 'user agent': (r) => r.json().headers['user-agent'] === 'MyK6UserAgentString/1.0' });
  check(http.get(`${__ENV.BASE}/`), { 'scenario tag': (r) => r.status === 200 });
  check(http.get(`${__ENV.BASE}/`), { 'new connection each time': (r) => r.timings.connecting > 0 });
}
