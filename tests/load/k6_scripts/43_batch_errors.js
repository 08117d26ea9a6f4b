// expect: {"http_reqs.count": 3, "http_reqs{name:slow}.count": 1, "http_reqs{name:form}.count": 1, "check:refused in batch": [1, 0], "check:timeout in batch": [1, 0], "check:form body": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';
export default function () {
  const rs = http.batch([
    ['GET', `http://127.0.0.1:${__ENV.CLOSED_PORT}/`],
    ['GET', `${__ENV.BASE}/delay/2000`, null, { timeout: '200ms', tags: { name: 'slow' } }],
    { method: 'POST', url: `${__ENV.BASE}/echo`, body: { a: '1' }, params: { tags: { name: 'form' } } },
  ]);
  check(rs, {
    'refused in batch': (r) => r[0].status === 0 && r[0].error_code === 1212,
    'timeout in batch': (r) => r[1].status === 0 && r[1].error_code === 1050,
    'form body': (r) => r[2].json('body') === 'a=1' && r[2].json('headers')['content-type'] === 'application/x-www-form-urlencoded',
  });
}
