// expect: {"http_reqs.count": 1, "check:binary length": [1, 0], "check:binary sent": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';
import encoding from 'k6/encoding';

const blob = open('./data/blob.bin', 'b');

export default function () {
  check(blob, { 'binary length': (b) => b.byteLength === 5 && new Uint8Array(b)[3] === 255 });
  const res = http.post(`${__ENV.APP}/echo`, encoding.b64encode(blob));
  check(res, { 'binary sent': (r) => r.json('body') === 'AAEC//4=' });
}
