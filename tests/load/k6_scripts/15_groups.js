// expect: {"http_reqs.count": 6, "group_duration.count": 9, "check:in inner": [3, 0], "checkpath:::outer::inner::in inner": 3, "http_reqs{group:::outer}.count": 3, "http_reqs{group:::outer::inner}.count": 3}
import http from 'k6/http';
import { check, group } from 'k6';

export const options = { iterations: 3 };

export default function () {
  group('outer', function () {
    http.get(`${__ENV.BASE}/`);
    group('inner', () => {
      const res = http.get(`${__ENV.BASE}/`);
      check(res, { 'in inner': (r) => r.status === 200 });
    });
  });
  const v = group('value', () => 42);
  if (v !== 42) throw new Error('group must return its function value');
}
