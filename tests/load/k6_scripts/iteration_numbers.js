import exec from 'k6/execution';
import { Counter } from 'k6/metrics';

// run by test_k6_cli.py: exec.scenario.iterationInTest of the first 5 numbers, counted per number
const numbered = new Counter('numbered');
export const options = { vus: 2, iterations: 6 };

export default function () {
  const n = exec.scenario.iterationInTest;
  if (n < 5) numbered.add(1, { n: String(n) });
}
