// expect: {"http_reqs.count": 7, "check:method echoed": [7, 0], "http_reqs{method:PATCH}.count": 1, "http_reqs{method:DELETE}.count": 1, "http_reqs{method:PUT}.count": 2}
import http from 'k6/http';
import { check } from 'k6';

const echo = () => `${__ENV.APP}/echo`;

function echoed(res, method) {
  check(res, { 'method echoed': (r) => r.json('method') === method });
}

export default function () {
  echoed(http.get(echo()), 'GET');
  echoed(http.post(echo(), 'a=1'), 'POST');
  echoed(http.put(echo(), JSON.stringify({ x: 1 }), { headers: { 'Content-Type': 'application/json' } }), 'PUT');
  echoed(http.patch(echo(), 'p'), 'PATCH');
  echoed(http.del(echo()), 'DELETE');
  echoed(http.request('PUT', echo(), 'r'), 'PUT');
  echoed(http.request('POST', echo(), { form: 'field', n: 2 }), 'POST');
}
