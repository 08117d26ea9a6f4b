// expect: {"check:from -e": [2, 0], "check:scenario env": [1, 0], "check:no scenario env": [1, 0]}
import { check } from 'k6';

export const options = {
  scenarios: {
    withenv: { executor: 'shared-iterations', iterations: 1, env: { FLAVOUR: 'mint' } },
    plain: { executor: 'shared-iterations', iterations: 1, exec: 'plain' },
  },
};

export default function () {
  check(__ENV, { 'from -e': (e) => e.GREETING === 'hello' });
  check(__ENV, { 'scenario env': (e) => e.FLAVOUR === 'mint' });
}
export function plain() {
  check(__ENV, { 'from -e': (e) => e.GREETING === 'hello' });
  check(__ENV, { 'no scenario env': (e) => e.FLAVOUR === undefined });
}
