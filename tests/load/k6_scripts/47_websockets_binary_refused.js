// expect: {"check:binary back": [1, 0], "check:states": [1, 0], "check:refused: onerror": [1, 0], "check:refused: onclose": [1, 0], "ws_sessions.count": 2}
import { WebSocket } from 'k6/experimental/websockets';
import { check } from 'k6';
export default function () {
  const ws = new WebSocket(`${__ENV.WS}/ws/echo`);
  ws.binaryType = 'arraybuffer';
  let states = [];
  ws.addEventListener('open', () => { states.push(ws.readyState); ws.send(new Uint8Array([7, 8]).buffer); ws.ping(); });
  ws.onpong = () => { states.push('pong'); };
  ws.onmessage = (e) => { check(e.data, { 'binary back': (d) => d instanceof ArrayBuffer && new Uint8Array(d)[1] === 8 }); ws.close(); };
  ws.onclose = () => { states.push(ws.readyState); check(states, { 'states': (s) => s[0] === 1 && s[s.length - 1] === 3 }); };
  const bad = new WebSocket(`ws://127.0.0.1:${__ENV.CLOSED_PORT}/x`);
  bad.onerror = (e) => { check(e, { 'refused: onerror': (x) => !!x.error }); };
  bad.onclose = () => { check(null, { 'refused: onclose': () => true }); };
}
