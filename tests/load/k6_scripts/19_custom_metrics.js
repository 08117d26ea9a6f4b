// expect: {"orders.count": 6, "orders{kind:card}.count": 3, "order_ok.passes": 6, "order_ok.fails": 3, "basket.value": 5, "wait_ms.count": 3, "wait_ms.max": 30, "wait_ms.min": 10}
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

const orders = new Counter('orders');
const ok = new Rate('order_ok');
const basket = new Gauge('basket');
const wait = new Trend('wait_ms', true);

export const options = {
  iterations: 3,
  thresholds: { orders: ['count==6'], order_ok: ['rate>0.5'], 'orders{kind:card}': ['count>=3'], wait_ms: ['max<=30'] },
};

export default function () {
  orders.add(1, { kind: 'card' });
  orders.add(1, { kind: 'cash' });
  ok.add(true);
  ok.add(__ITER !== 1);
  ok.add(__ITER === 0 ? 1 : 0);
  basket.add(__ITER + 3);
  wait.add((__ITER + 1) * 10);
}
