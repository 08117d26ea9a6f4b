// expect: {"http_reqs.count": 2, "http_req_failed.passes": 2, "check:refused": [1, 0], "check:bad url": [1, 0], "http_reqs{error_code:1212}.count": 1}
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  const res = http.get(`http://127.0.0.1:${__ENV.CLOSED_PORT}/`);
  check(res, { refused: (r) => r.status === 0 && r.error_code === 1212 && r.error.includes('refused') });
  const bad = http.get('ftp://nowhere/');
  check(bad, { 'bad url': (r) => r.status === 0 && r.error_code === 1020 });
}
