// expect: {"ws_sessions.count": 1, "ws_msgs_sent.count": 2, "ws_msgs_received.count": 2, "check:onmessage": [2, 0], "check:onclose": [1, 0]}
import { WebSocket } from 'k6/experimental/websockets';
import { check } from 'k6';

export default function () {
  const ws = new WebSocket(`${__ENV.WS}/ws/echo`);
  let got = 0;
  ws.onopen = () => {
    ws.send('ping-1');
    setTimeout(() => ws.send('ping-2'), 10);
  };
  ws.onmessage = (event) => {
    got += 1;
    check(event.data, { onmessage: (d) => d.startsWith('ping-') });
    if (got === 2) ws.close();
  };
  ws.addEventListener('close', () => check(got, { onclose: (n) => n === 2 }));
}
