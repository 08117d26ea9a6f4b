// expect: {"iterations.count": 2, "check:randomUUID": [2, 0], "check:unique": [2, 0], "check:getRandomValues": [2, 0], "check:subtle refused": [2, 0], "check:k6/crypto beside it": [2, 0]}
import { check } from 'k6';
import { sha256 } from 'k6/crypto';

// k6's global WebCrypto object, used without an import (examples/webcrypto/randomUUID.js in k6)
export const options = { iterations: 2 };

export default function () {
  const id = crypto.randomUUID();
  check(id, { randomUUID: (u) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u) });
  check(crypto.randomUUID(), { unique: (u) => u !== id });
  const bytes = crypto.getRandomValues(new Uint32Array(8));
  check(bytes, { getRandomValues: (b) => b.length === 8 && b.some((x) => x !== 0) });
  let refused = '';
  try { crypto.subtle.digest('SHA-256', new ArrayBuffer(1)); } catch (e) { refused = e.message; }
  check(refused, { 'subtle refused': (m) => m.includes('use k6/crypto') });
  check(sha256('abc', 'hex'), { 'k6/crypto beside it': (h) => h.startsWith('ba7816bf') });
}
