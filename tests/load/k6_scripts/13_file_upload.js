// expect: {"http_reqs.count": 1, "check:multipart sent": [1, 0], "check:file content": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';

const report = open('./data/report.txt');

export default function () {
  const res = http.post(`${__ENV.APP}/echo`, {
    title: 'weekly',
    file: http.file(report, 'report.txt', 'text/plain'),
  });
  check(res, {
    'multipart sent': (r) => r.json().headers['content-type'].startsWith('multipart/form-data; boundary='),
    'file content': (r) => r.json('body').includes('filename="report.txt"') && r.json('body').includes('quarterly numbers'),
  });
}
