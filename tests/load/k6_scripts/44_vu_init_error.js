// expect: {"errors": [1, 100000000], "error:default: JsError: Error: no data for VU 2 at <anonymous> (44_vu_init_error.js:7)": [1, 100000000], "check:VU 1 runs": [[1, 100000000], 0]}
import { check } from 'k6';

// VU 2's init code fails (its own context; the options were read with __VU 0): each of its
// iterations counts that error, on the closed-model path as on the general one; VU 1 runs on
export const options = { vus: 2, duration: '1s' };
if (__VU === 2) throw new Error('no data for VU 2');

export default function () {
  check(__VU, { 'VU 1 runs': (v) => v === 1 });
}
