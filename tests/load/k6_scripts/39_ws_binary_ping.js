// expect: {"ws_sessions.count": 1, "ws_msgs_sent.count": 1, "ws_msgs_received.count": 1, "ws_ping.count": 1, "ws_sessions_closed{kind:bin}.count": 1, "check:binary echoed": [1, 0], "check:101": [1, 0], "check:pong and binary": [1, 0]}
import ws from 'k6/ws';
import { check } from 'k6';

export const options = { iterations: 1 };

export default function () {
  let pongs = 0, bins = 0;
  const res = ws.connect(`${__ENV.WS}/ws/echo`, { tags: { kind: 'bin' } }, (socket) => {
    socket.on('open', () => {
      socket.sendBinary(new Uint8Array([1, 2, 3]).buffer);
      socket.ping();
    });
    socket.on('binaryMessage', (buf) => {
      bins++;
      check(buf, { 'binary echoed': (b) => b.byteLength === 3 && new Uint8Array(b)[2] === 3 });
    });
    socket.on('pong', () => { pongs++; });
    socket.setTimeout(() => socket.close(), 200);
  });
  check(res, { '101': (r) => r.status === 101 });
  check(null, { 'pong and binary': () => pongs === 1 && bins === 1 });
}
