// expect: {"check:seeded": [2, 0], "iterations.count": 2}
import { check, randomSeed } from 'k6';

export const options = { iterations: 2 };

export default function () {
  randomSeed(42);
  const a = Math.random();
  randomSeed(42);
  check(Math.random(), { seeded: (b) => b === a && b >= 0 && b < 1 });
  console.log(`iteration ${__ITER} of VU ${__VU}`);
}
