// expect: {"iterations.count": 2, "check:caught b64decode error": [2, 0], "check:caught open() error": [2, 0], "check:goes on after": [2, 0], "errors": 2, "error:open() is only available in the init context (outside functions), as in k6 (at 40_host_errors_caught.js:17)": 2}
import encoding from 'k6/encoding';
import { check } from 'k6';

export const options = { iterations: 2 };

// errors raised by k6's API are JavaScript exceptions a script may catch, as in k6
export default function () {
  let bad = '';
  try { encoding.b64decode('%%% not base64', 'std', 's'); } catch (e) { bad = String(e.message); }
  check(bad, { 'caught b64decode error': (m) => m.length > 0 });
  let late = '';
  try { open('data/users.json'); } catch (e) { late = String(e.message); }
  check(late, { 'caught open() error': (m) => m.includes('only available in the init context') });
  check(null, { 'goes on after': () => true });
  // and one not caught is the iteration's error, with the script's line
  open('data/users.json');
}
