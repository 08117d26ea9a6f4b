// Drives the real toxiproxy-node-client (npm) through every call it offers against
// `assay proxy serve`, checking what a real Toxiproxy answers. Run by test_faults_compat_node.py.
"use strict";
const assert = require("node:assert/strict");
const net = require("node:net");
const { Toxiproxy, ToxiproxyError } = require("toxiproxy-node-client");

const [apiUrl, upstream] = process.argv.slice(2);

function roundTrip(port, payload) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const sock = net.connect(port, "127.0.0.1", () => sock.write(payload));
    let got = "";
    sock.on("data", (d) => {
      got += d.toString();
      if (got.length >= payload.length) {
        sock.destroy();
        resolve({ got, ms: Date.now() - started });
      }
    });
    sock.on("error", reject);
  });
}

async function main() {
  const toxiproxy = new Toxiproxy(apiUrl);
  const version = await toxiproxy.getVersion();
  assert.match(String(version), /2\.12\.0/);
  await toxiproxy.reset();
  assert.deepEqual(Object.keys(await toxiproxy.getAll()), []);

  const proxy = await toxiproxy.createProxy({ name: "node_echo", listen: "127.0.0.1:0", upstream });
  assert.equal(proxy.name, "node_echo");
  assert.equal(proxy.enabled, true);
  const port = Number(proxy.listen.split(":").pop());
  assert.ok(port > 0, "listen is rewritten to the bound port");

  const again = await toxiproxy.get("node_echo");
  assert.equal(again.listen, proxy.listen);
  assert.deepEqual(Object.keys(await toxiproxy.getAll()), ["node_echo"]);

  // a duplicate create is an error the client raises
  await assert.rejects(
    toxiproxy.createProxy({ name: "node_echo", listen: "127.0.0.1:0", upstream }),
    (err) => err instanceof ToxiproxyError && /409/.test(err.message),
  );
  await assert.rejects(toxiproxy.get("missing"), (err) => /404/.test(err.message));

  // toxics: add (body as given), get, update (POST, partial), remove
  const toxic = await proxy.addToxic({ type: "latency", attributes: { latency: 200, jitter: 0 } });
  assert.equal(toxic.name, "latency_downstream");
  assert.equal(toxic.stream, "downstream");
  assert.equal(toxic.toxicity, 1);
  const slow = await roundTrip(port, "hello");
  assert.equal(slow.got, "hello");
  assert.ok(slow.ms >= 195, `latency applied (${slow.ms} ms)`);

  const fetched = await proxy.getToxic("latency_downstream");
  assert.deepEqual(fetched.attributes, { latency: 200, jitter: 0 });
  const updated = await fetched.update({ attributes: { latency: 75 }, toxicity: 0.5 });
  assert.equal(updated.attributes.latency, 75);
  assert.equal(updated.attributes.jitter, 0);
  assert.equal(updated.toxicity, 0.5);
  await updated.remove();
  await assert.rejects(proxy.getToxic("latency_downstream"), (err) => /404/.test(err.message));
  const fast = await roundTrip(port, "again");
  assert.equal(fast.got, "again");

  const up = await proxy.addToxic({ name: "cut", type: "limit_data", stream: "upstream", toxicity: 1, attributes: { bytes: 100 } });
  assert.equal(up.stream, "upstream");
  await up.remove();

  // update the proxy (POST, partial bodies): down and up again
  const disabled = await proxy.update({ enabled: false });
  assert.equal(disabled.enabled, false);
  await assert.rejects(roundTrip(port, "x"), (err) => err.code === "ECONNREFUSED");
  const enabled = await disabled.update({ enabled: true });
  assert.equal(enabled.enabled, true);
  assert.equal((await roundTrip(Number(enabled.listen.split(":").pop()), "back")).got, "back");

  // populate: POST /populate, data.proxies[]
  const populated = await toxiproxy.populate([
    { name: "node_pop_a", listen: "127.0.0.1:0", upstream },
    { name: "node_pop_b", listen: "127.0.0.1:0", upstream, enabled: false },
  ]);
  assert.deepEqual(Object.keys(populated).sort(), ["node_pop_a", "node_pop_b"]);
  assert.equal(populated.node_pop_b.enabled, false);

  await toxiproxy.reset();
  const all = await toxiproxy.getAll();
  assert.equal(all.node_pop_b.enabled, true);
  for (const p of Object.values(all)) await p.remove();
  assert.deepEqual(Object.keys(await toxiproxy.getAll()), []);
  console.log("node client: OK");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
