import http from 'k6/http';

// run by test_k6_cli.py: one output of handleSummary cannot be written (its folder is a file)
export const options = { iterations: 1 };

export default function () {
  http.get(`${__ENV.BASE}/`);
}

export function handleSummary(data) {
  return {
    stdout: `requests=${data.metrics.http_reqs.values.count}\n`,
    [`${__ENV.BLOCKER}/summary.json`]: JSON.stringify(data),
  };
}
