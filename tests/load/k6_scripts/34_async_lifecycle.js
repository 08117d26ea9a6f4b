// expect: {"iterations.count": 4, "http_reqs.count": 2, "errors": 2, "error:Uncaught (in promise) Error: rejected 1 at <anonymous> (34_async_lifecycle.js:16)": 2, "check:data from async setup": [4, 0], "check:async teardown ran": [1, 0]}
import http from 'k6/http';
import { check } from 'k6';

export const options = { vus: 1, iterations: 4 };

export async function setup() {
  await Promise.resolve();
  http.get(`${__ENV.BASE}/`);  // after an await: runs, and its value is the data
  return { token: 'abc' };
}

export default async function (data) {
  check(data, { 'data from async setup': (d) => d !== undefined && d.token === 'abc' });
  await Promise.resolve();
  if (__ITER % 2 === 1) throw new Error(`rejected ${__ITER % 2}`);  // k6: "Uncaught (in promise) Error: ..."
}

export async function teardown(data) {
  await null;
  http.get(`${__ENV.BASE}/`);
  check(data, { 'async teardown ran': (d) => d.token === 'abc' });
}
