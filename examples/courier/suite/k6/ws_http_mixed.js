// courier WebSocket + HTTP: subscribers hold a WebSocket on a conversation while messages are
// POSTed over HTTP; each message's delivery time (POST sent -> pushed on the socket) is a Trend.
//
//   assay load run examples/courier/suite/k6/ws_http_mixed.js -e COURIER_URL=http://127.0.0.1:8080
import http from 'k6/http';
import ws from 'k6/ws';
import { check } from 'k6';
import { Rate, Trend } from 'k6/metrics';

const BASE = (__ENV.COURIER_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const WS_BASE = BASE.replace(/^http/, 'ws');
const MESSAGES = Number(__ENV.MESSAGES || 5);

const deliveryTime = new Trend('delivery_time', true);
const delivered = new Rate('delivered');

export const options = {
  scenarios: {
    chat: { executor: 'per-vu-iterations', vus: Number(__ENV.VUS || 2), iterations: Number(__ENV.ITERATIONS || 2), maxDuration: '2m' },
    browse: { executor: 'constant-vus', vus: 1, duration: __ENV.DURATION || '3s', exec: 'browse' },
  },
  thresholds: {
    delivered: ['rate>0.999'],
    delivery_time: ['p(95)<1000'],
    http_req_failed: ['rate<0.001'],
  },
};

const user = () => `chat-${__VU}`;
const json = { 'Content-Type': 'application/json' };
// Log in once per VU (module state is per VU, as in k6) and keep the bearer token.
let token = null;
function login(name) {
  if (token === null) {
    const res = http.post(`${BASE}/auth/login`, JSON.stringify({ user_id: name, password: __ENV.COURIER_PASSWORD || 'courier' }),
      { headers: { 'Content-Type': 'application/json' }, tags: { name: 'login', kind: 'auth' } });
    check(res, { 'logged in': (r) => r.status === 201 });
    token = res.json('token');
  }
  return token;
}
const auth = (name) => Object.assign({ Authorization: `Bearer ${login(name)}` }, json);

export default function () {
  const conv = http.post(`${BASE}/conversations`, JSON.stringify({ title: `room ${__VU}`, participants: ['observer'] }),
    { headers: auth(user()), tags: { name: 'create' } });
  check(conv, { 'room created': (r) => r.status === 201 });
  const room = conv.json('id');
  const pending = {};
  let sent = 0;
  let seen = 0;
  const res = ws.connect(`${WS_BASE}/conversations/${room}/ws?token=${login(user())}`, { tags: { name: 'subscribe' } }, (socket) => {
    socket.on('open', () => {
      socket.setInterval(() => {
        if (sent >= MESSAGES) return;
        const body = `m-${__VU}-${__ITER}-${sent}`;
        pending[body] = Date.now();
        sent += 1;
        const post = http.post(`${BASE}/conversations/${room}/messages`, JSON.stringify({ body: body }),
          { headers: auth(user()), tags: { name: 'send' } });
        check(post, { 'message accepted': (r) => r.status === 201 });
      }, 50);
    });
    socket.on('message', (raw) => {
      const event = JSON.parse(raw);
      const body = event.message && event.message.body;
      if (body in pending) {
        deliveryTime.add(Date.now() - pending[body]);
        delivered.add(true);
        delete pending[body];
        seen += 1;
      }
      if (seen === MESSAGES) socket.close();
    });
    socket.setTimeout(() => socket.close(), 10000);
  });
  check(res, { 'subscribed (101)': (r) => r && r.status === 101 });
  for (const body of Object.keys(pending)) delivered.add(false);
}

export function browse() {
  const res = http.get(`${BASE}/conversations?limit=10`, { headers: auth('observer'), tags: { name: 'list' } });
  check(res, { 'list ok': (r) => r.status === 200 });
}
