// expect: {"http_reqs.count": 5, "check:array batch": [1, 0], "check:object batch": [1, 0], "http_reqs{name:batched}.count": 1}
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  const base = __ENV.BASE;
  const list = http.batch([
    ['GET', `${base}/`],
    ['GET', `${base}/status/201`, null, { tags: { name: 'batched' } }],
    `${base}/json`,
  ]);
  check(list, { 'array batch': (r) => r.length === 3 && r[0].status === 200 && r[1].status === 201 && r[2].json('id') === 7 });
  const named = http.batch({
    home: { method: 'GET', url: `${base}/` },
    posted: { method: 'POST', url: `${__ENV.APP}/echo`, body: 'hi' },
  });
  check(named, { 'object batch': (r) => r.home.status === 200 && r.posted.json('body') === 'hi' });
}
