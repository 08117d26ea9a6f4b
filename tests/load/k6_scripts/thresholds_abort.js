import http from 'k6/http';

export const options = {
  vus: 1,
  duration: '30s',
  thresholds: {
    http_req_failed: [{ threshold: 'rate<0.01', abortOnFail: true }],
  },
};

export default function () {
  http.get(`${__ENV.BASE}/status/500`);
}
