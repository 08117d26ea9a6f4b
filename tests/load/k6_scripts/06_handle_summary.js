// expect: {"http_reqs.count": 3, "summary_file": "summary.json"}
import http from 'k6/http';

export const options = { iterations: 3, thresholds: { http_req_failed: ['rate<0.01'] } };

export default function () {
  http.get(`${__ENV.BASE}/`);
}

export function handleSummary(data) {
  const line = `requests=${data.metrics.http_reqs.values.count} failed_rate=${data.metrics.http_req_failed.values.rate}\n`;
  return {
    stdout: line,
    [`${__ENV.OUT_DIR}/summary.json`]: JSON.stringify({ requests: data.metrics.http_reqs.values.count, ok: data.metrics.http_req_failed.thresholds['rate<0.01'].ok }),
  };
}
