// courier CRUD mix: 40% create, 30% list, 20% update, 10% delete, at a constant arrival rate.
//
//   assay load run examples/courier/suite/k6/crud_mix.js -e COURIER_URL=http://127.0.0.1:8080 -e DURATION=1m
//
// Each VU updates and deletes conversations it created itself (module-level state is per VU,
// as in k6), so the mix stays what it says. Every request carries kind:read|write, which the
// suite's SLO file gates on.
import http from 'k6/http';
import { check, group } from 'k6';
import { Counter } from 'k6/metrics';

const BASE = (__ENV.COURIER_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const ops = new Counter('crud_ops');

// The acceptance scenario this script covers (examples/courier/spec.md), for `assay trace matrix`;
// k6 ignores an export that is not a function or `options`.
export const scenario = ['US2-AS1'];

export const options = {
  scenarios: {
    crud: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 40),
      timeUnit: '1s',
      duration: __ENV.DURATION || '20s',
      preAllocatedVUs: 10,
      maxVUs: 60,
    },
  },
  thresholds: {
    'http_req_duration{kind:read}': ['p(95)<350'],
    'http_req_duration{kind:write}': ['p(95)<700'],
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
  },
};

// Log in once per VU (module state is per VU, as in k6) and keep the bearer token.
let token = null;
function login(user) {
  if (token === null) {
    const res = http.post(`${BASE}/auth/login`, JSON.stringify({ user_id: user, password: __ENV.COURIER_PASSWORD || 'courier' }),
      { headers: { 'Content-Type': 'application/json' }, tags: { name: 'login', kind: 'auth' } });
    check(res, { 'logged in': (r) => r.status === 201 });
    token = res.json('token');
  }
  return token;
}

const mine = []; // [id, version] of conversations this VU created
const params = (name, kind, extra) => ({
  headers: Object.assign({ 'Content-Type': 'application/json', Authorization: `Bearer ${login(`load-${__VU}`)}` }, extra || {}),
  tags: { name: name, kind: kind },
});

function create() {
  const res = http.post(`${BASE}/conversations`, JSON.stringify({ title: `load ${__VU}-${__ITER}`, participants: ['observer'] }),
    params('create', 'write'));
  if (check(res, { 'create: status is 201': (r) => r.status === 201 })) mine.push([res.json('id'), res.json('version')]);
  ops.add(1, { op: 'create' });
}

function list() {
  const res = http.get(`${BASE}/conversations?limit=20`, params('list', 'read'));
  check(res, { 'list: status is 200': (r) => r.status === 200 && Array.isArray(r.json('items')) });
  ops.add(1, { op: 'list' });
}

function update() {
  const i = Math.floor(Math.random() * mine.length);
  const [id, version] = mine[i];
  const res = http.patch(`${BASE}/conversations/${id}`, JSON.stringify({ title: `renamed ${__ITER}`, version: version }),
    params('update', 'write'));
  if (check(res, { 'update: status is 200': (r) => r.status === 200 })) mine[i] = [id, res.json('version')];
  ops.add(1, { op: 'update' });
}

function remove() {
  const [id, version] = mine.splice(Math.floor(Math.random() * mine.length), 1)[0];
  const res = http.del(`${BASE}/conversations/${id}`, null, params('delete', 'write', { 'If-Match': `"${version}"` }));
  check(res, { 'delete: status is 204': (r) => r.status === 204 });
  ops.add(1, { op: 'delete' });
}

export default function () {
  const roll = Math.random() * 100;
  group('crud', () => {
    if (roll < 40) create();
    else if (roll < 70) list();
    else if (mine.length === 0) create(); // nothing of ours to change yet
    else if (roll < 90) update();
    else remove();
  });
}
