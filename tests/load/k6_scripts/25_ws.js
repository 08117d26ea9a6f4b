// expect: {"ws_sessions.count": 2, "ws_msgs_sent.count": 6, "ws_msgs_received.count": 6, "check:echoed": [6, 0], "check:status 101": [2, 0], "check:closed": [2, 0], "ws_session_duration.count": 2}
import ws from 'k6/ws';
import { check } from 'k6';

export const options = { iterations: 2 };

export default function () {
  let received = 0;
  let closed = false;
  const res = ws.connect(`${__ENV.WS}/ws/echo`, { tags: { name: 'echo' } }, function (socket) {
    socket.on('open', () => {
      socket.send('one');
      socket.setTimeout(() => socket.send('two'), 20);
      let n = 0;
      const id = socket.setInterval(() => { n += 1; if (n === 1) socket.send('three'); }, 30);
    });
    socket.on('message', (msg) => {
      received += 1;
      check(msg, { echoed: (m) => ['one', 'two', 'three'].includes(m) });
      if (received === 3) socket.close();
    });
    socket.on('close', () => { closed = true; });
    socket.setTimeout(() => socket.close(), 5000);
  });
  check(res, { 'status 101': (r) => r && r.status === 101 });
  check(closed, { closed: (c) => c === true });
}
