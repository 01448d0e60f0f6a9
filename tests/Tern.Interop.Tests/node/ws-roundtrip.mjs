// MQTT.js over WebSocket against a Tern broker: subscribe, publish at QoS 0, 1 and 2, receive all
// three, exit 0. Usage: node ws-roundtrip.mjs <url> [ca.pem]. Any failure or a 10 s stall exits 1.
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';

const [url, caFile] = process.argv.slice(2);
if (!url) {
  console.error('usage: node ws-roundtrip.mjs <ws://host:port/mqtt> [ca.pem]');
  process.exit(2);
}

const fail = (message) => {
  console.error(`FAIL: ${message}`);
  process.exit(1);
};
setTimeout(() => fail('timed out'), 10_000).unref();

const topic = `mqttjs/${process.pid}/${Date.now()}`;
const options = { protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 5_000 };
if (caFile) {
  options.ca = readFileSync(caFile);
  options.rejectUnauthorized = true;
}

const client = mqtt.connect(url, options);
const expected = new Set(['qos0', 'qos1', 'qos2']);
client.on('error', (err) => fail(`client error: ${err.message}`));
client.on('message', (t, payload, packet) => {
  const text = payload.toString();
  console.log(`received ${text} on ${t} at qos ${packet.qos}`);
  if (`qos${packet.qos}` !== text) fail(`${text} arrived at qos ${packet.qos}`);
  expected.delete(text);
  if (expected.size === 0) {
    client.end(false, () => {
      console.log('OK');
      process.exit(0);
    });
  }
});

client.on('connect', async () => {
  console.log(`connected to ${url}`);
  try {
    const granted = await client.subscribeAsync(topic, { qos: 2 });
    if (granted[0].qos !== 2) fail(`granted qos ${granted[0].qos}`);
    for (const qos of [0, 1, 2]) {
      await client.publishAsync(topic, `qos${qos}`, { qos });
    }
  } catch (err) {
    fail(err.message);
  }
});
