// expect: {"iterations.count": 1, "check:file beside the module": [1, 0], "check:module url": [1, 0], "check:resolve": [1, 0]}
import { check } from 'k6';
import { users, here } from './lib/users.js';

export const options = { iterations: 1 };

export default function () {
  check(users, { 'file beside the module': (u) => u.length === 3 && u[0].user === 'ada' });
  check(here, { 'module url': (u) => u.startsWith('file:///') && u.endsWith('/k6_scripts/lib/users.js') });
  check(import.meta.resolve('./data/blob.bin'), { resolve: (u) => u.endsWith('/k6_scripts/data/blob.bin') && !u.includes('/./') });
}
