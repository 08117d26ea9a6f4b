// courier message soak: 1 KiB messages into a few conversations at a constant arrival rate.
//
//   assay load run examples/courier/suite/k6/message_soak.js -e COURIER_URL=http://127.0.0.1:8080 \
//       -e RATE=50 -e DURATION=30m --summary-export soak.json
//
// The same file runs on k6 (`k6 run -e COURIER_URL=... message_soak.js`).
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const BASE = (__ENV.COURIER_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const RATE = Number(__ENV.RATE || 20);
const DURATION = __ENV.DURATION || '30s';
const ROOMS = Number(__ENV.ROOMS || 4);
const BODY = 'x'.repeat(1024 - 20); // after the 20-character sender prefix: 1 KiB per message

const bytesSent = new Counter('message_bytes');
const sendTime = new Trend('message_send_time', true);

export const options = {
  scenarios: {
    soak: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.max(2, Math.ceil(RATE / 10)),
      maxVUs: Math.max(10, RATE),
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    'http_req_duration{name:send}': ['p(95)<700'],
    checks: ['rate>0.999'],
  },
};

const headers = (token) => ({ 'Content-Type': 'application/json', Authorization: `Bearer ${token}` });

export function setup() {
  const ready = http.get(`${BASE}/health/ready`);
  if (ready.status !== 200) throw new Error(`courier at ${BASE} is not ready (${ready.status})`);
  const login = http.post(`${BASE}/auth/login`, JSON.stringify({ user_id: 'soaker', password: __ENV.COURIER_PASSWORD || 'courier' }),
    { headers: { 'Content-Type': 'application/json' }, tags: { name: 'login' } });
  if (login.status !== 201) throw new Error(`courier at ${BASE} refused the login (${login.status})`);
  const token = login.json('token');
  const rooms = [];
  for (let i = 0; i < ROOMS; i++) {
    const res = http.post(`${BASE}/conversations`, JSON.stringify({ title: `soak ${i}`, participants: ['observer'] }),
      { headers: headers(token), tags: { name: 'create' } });
    check(res, { 'room created': (r) => r.status === 201 });
    rooms.push(res.json('id'));
  }
  return { rooms: rooms, token: token };
}

export default function (data) {
  const room = data.rooms[__ITER % data.rooms.length];
  const body = `${String(__VU).padStart(6, '0')}-${String(__ITER).padStart(12, '0')}:${BODY}`.slice(0, 1024);
  const res = http.post(`${BASE}/conversations/${room}/messages`, JSON.stringify({ body: body }), {
    headers: Object.assign(headers(data.token), { 'Idempotency-Key': `${__VU}-${__ITER}` }),
    tags: { name: 'send' },
  });
  check(res, { 'message stored': (r) => r.status === 201 && r.json('body').length === 1024 });
  bytesSent.add(body.length);
  sendTime.add(res.timings.duration);
}
