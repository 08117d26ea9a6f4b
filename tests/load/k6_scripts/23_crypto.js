// expect: {"check:md5": [1, 0], "check:sha1": [1, 0], "check:sha256": [1, 0], "check:sha512 base64": [1, 0], "check:hmac": [1, 0], "check:createHash": [1, 0], "check:createHMAC": [1, 0], "check:randomBytes": [1, 0]}
import { check } from 'k6';
import crypto from 'k6/crypto';

export default function () {
  check(crypto.md5('hello', 'hex'), { md5: (h) => h === '5d41402abc4b2a76b9719d911017c592' });
  check(crypto.sha1('hello', 'hex'), { sha1: (h) => h === 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d' });
  check(crypto.sha256('hello', 'hex'), { sha256: (h) => h === '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' });
  check(crypto.sha512('', 'base64'), { 'sha512 base64': (h) => h.startsWith('z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg') });
  check(crypto.hmac('sha256', 'key', 'The quick brown fox jumps over the lazy dog', 'hex'), {
    hmac: (h) => h === 'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
  });
  const hasher = crypto.createHash('sha256');
  hasher.update('hel');
  hasher.update('lo');
  check(hasher.digest('hex'), { createHash: (h) => h === '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' });
  const mac = crypto.createHMAC('sha256', 'key');
  mac.update('The quick brown fox jumps over the lazy dog');
  check(mac.digest('hex'), { createHMAC: (h) => h === 'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8' });
  check(crypto.randomBytes(16), { randomBytes: (b) => b.byteLength === 16 });
}
