// expect: {"check:std": [1, 0], "check:rawurl": [1, 0], "check:decode string": [1, 0], "check:decode buffer": [1, 0], "check:url": [1, 0]}
import { check } from 'k6';
import encoding from 'k6/encoding';

export default function () {
  check(encoding.b64encode('hello?>'), { std: (s) => s === 'aGVsbG8/Pg==' });
  check(encoding.b64encode('hello?>', 'rawurl'), { rawurl: (s) => s === 'aGVsbG8_Pg' });
  check(encoding.b64encode('hello?>', 'url'), { url: (s) => s === 'aGVsbG8_Pg==' });
  check(encoding.b64decode('aGVsbG8/Pg==', 'std', 's'), { 'decode string': (s) => s === 'hello?>' });
  check(encoding.b64decode('aGVsbG8_Pg', 'rawurl'), { 'decode buffer': (b) => b.byteLength === 7 });
}
