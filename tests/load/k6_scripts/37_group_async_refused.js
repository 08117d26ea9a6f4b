// expect: {"iterations.count": 1, "group_duration.count": 1, "check:async group refused": [1, 0], "check:callback required": [1, 0]}
import { check, group } from 'k6';

export const options = { iterations: 1 };

function refusal(fn) {
  try { fn(); return ''; } catch (e) { return String(e.message); }
}

export default function () {
  check(refusal(() => group('a', async () => {})), { 'async group refused': (m) => m.startsWith('group() does not support async functions') });
  check(refusal(() => group('b')), { 'callback required': (m) => m === 'group() requires a callback as a second argument' });
  group('c', () => {});
}
