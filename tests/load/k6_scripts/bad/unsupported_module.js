import { check } from 'k6';
import { browser } from 'k6/browser';

export default async function () {
  check(1, { one: (x) => x === 1 });
}
