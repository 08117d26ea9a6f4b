// expect: {"iterations.count": 2, "check:caught b64decode error": [2, 0], "check:caught open() error": [2, 0], "check:goes on after": [2, 0], "check:caught SharedArray error": [2, 0], "errors": 2, "error:open() is only available in the init context (outside functions), as in k6 (at 40_host_errors_caught.js:21)": 2}
import encoding from 'k6/encoding';
import { check } from 'k6';
import { SharedArray } from 'k6/data';

export const options = { iterations: 2 };

// errors raised by k6's API are JavaScript exceptions a script may catch, as in k6
export default function () {
  let bad = '';
  try { encoding.b64decode('%%% not base64', 'std', 's'); } catch (e) { bad = String(e.message); }
  check(bad, { 'caught b64decode error': (m) => m.length > 0 });
  let late = '';
  try { open('data/users.json'); } catch (e) { late = String(e.message); }
  check(late, { 'caught open() error': (m) => m.includes('only available in the init context') });
  let shared = '';
  try { new SharedArray('late', () => [1]); } catch (e) { shared = String(e.message); }
  check(shared, { 'caught SharedArray error': (m) => m.includes('only available in the init context') });
  check(null, { 'goes on after': () => true });
  // and one not caught is the iteration's error, with the script's line
  open('data/users.json');
}
