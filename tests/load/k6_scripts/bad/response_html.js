import http from 'k6/http';

export default function () {
  const res = http.get(`${__ENV.BASE}/`);
  const title = res.html().find('title').text();
}
