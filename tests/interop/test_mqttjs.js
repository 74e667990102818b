// MQTT.js 5 (the client inside Node-RED 4) against our broker and against Mosquitto, with a client
// certificate and rejectUnauthorized: true; and MQTT.js refusing a server certificate without the right SAN.
// Certificates are made by mqttpki in a temp folder (tests/interop/pki_fixture.sh).
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');

const SRC = process.env.MQTTPKI_SOURCE_DIR;
const MQTTPKI = process.env.MQTTPKI;
let mqtt;
try {
  mqtt = require(path.join(SRC, 'tests/interop/node/node_modules/mqtt'));
} catch (e) {
  console.log('SKIP: MQTT.js not installed: run tools/install-deps.sh --test');
  process.exit(77);
}

const T = fs.mkdtempSync(path.join(os.tmpdir(), 'mqttpki-mqttjs-'));
const children = [];
let passed = 0;
let failed = 0;
function check(desc, cond, detail = '') {
  if (cond) passed++;
  else { failed++; console.error(`FAIL: ${desc} ${detail}`); }
}
function cleanup() {
  for (const c of children) { try { c.kill(); } catch (_) { /* gone */ } }
  fs.rmSync(T, { recursive: true, force: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}
function waitFor(pred, ms, what) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      if (pred()) return resolve();
      if (Date.now() - start > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}
function waitPort(port, ms) {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve(); });
      s.on('error', () => {
        if (Date.now() - start > ms) reject(new Error(`port ${port} not listening`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function makePki() {
  execFileSync('bash', ['-c', `. "${SRC}/tests/interop/pki_fixture.sh"; make_pki "${T}" pi1 pi2`],
    { env: { ...process.env, MQTTPKI_DIR: path.join(T, 'pki') }, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function startOurBroker(certName) {
  const out = path.join(T, `our-${certName}.out`);
  const fd = fs.openSync(out, 'w');
  const child = spawn(MQTTPKI, ['broker', '--port', '0', '--bind', '127.0.0.1',
    '--cafile', path.join(T, 'pki/ca.crt'),
    '--certfile', path.join(T, certName, `${certName}.crt`), '--keyfile', path.join(T, certName, `${certName}.key`),
    '--require-certificate', '--use-identity-as-username'], { stdio: ['ignore', fd, 'ignore'] });
  children.push(child);
  let port = 0;
  await waitFor(() => {
    const m = /listening on 127\.0\.0\.1:(\d+) \(tls\)/.exec(fs.readFileSync(out, 'utf8'));
    if (m) port = Number(m[1]);
    return port !== 0;
  }, 10000, 'our broker to listen');
  return port;
}

async function startMosquitto() {
  const port = await freePort();
  const conf = path.join(T, 'mosquitto.conf');
  fs.writeFileSync(conf, [
    `user ${os.userInfo().username}`,
    `listener ${port} 127.0.0.1`,
    `cafile ${T}/pki/ca.crt`, `certfile ${T}/server/server.crt`, `keyfile ${T}/server/server.key`,
    'tls_version tlsv1.2', 'require_certificate true', 'use_identity_as_username true', ''].join('\n'));
  const bin = fs.existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';
  const child = spawn(bin, ['-c', conf], { stdio: 'ignore' });
  children.push(child);
  await waitPort(port, 10000);
  return port;
}

function tlsOptions(client) {
  return {
    ca: fs.readFileSync(path.join(T, 'pki/ca.crt')),
    cert: fs.readFileSync(path.join(T, client, `${client}.crt`)),
    key: fs.readFileSync(path.join(T, client, `${client}.key`)),
    rejectUnauthorized: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10000,
  };
}

function connect(port, client) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtts://localhost:${port}`, { ...tlsOptions(client), clientId: `${client}-${port}` });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => { c.end(true); reject(e); });
  });
}

async function roundTrip(label, port) {
  const sub = await connect(port, 'pi2');
  check(`${label}: subscriber connected`, sub.connected);
  const topic = `sensors/pi1/${label}`;
  await sub.subscribeAsync(topic, { qos: 1 });
  const got = new Promise((resolve) => sub.once('message', (t, p, packet) => resolve({ t, p: p.toString(), packet })));
  const pub = await connect(port, 'pi1');
  await pub.publishAsync(topic, '21.5', { qos: 1 });
  const msg = await Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error('no message')), 10000))]);
  check(`${label}: QoS 1 message received`, msg.t === topic && msg.p === '21.5', JSON.stringify(msg.p));
  await pub.publishAsync(`${topic}/retained`, 'kept', { qos: 1, retain: true });
  const late = await connect(port, 'pi2');
  const retained = new Promise((resolve) => late.once('message', (t, p, packet) => resolve({ t, p: p.toString(), retain: packet.retain })));
  await late.subscribeAsync(`${topic}/retained`, { qos: 1 });
  const r = await Promise.race([retained, new Promise((_, rej) => setTimeout(() => rej(new Error('no retained')), 10000))]);
  check(`${label}: retained message delivered with the retain flag`, r.p === 'kept' && r.retain === true);
  await pub.publishAsync(`${topic}/retained`, '', { qos: 1, retain: true });  // clear it
  for (const c of [sub, pub, late]) await c.endAsync();
}

async function refusedForSan(label, port) {
  try {
    const c = await connect(port, 'pi1');
    c.end(true);
    check(`${label}: MQTT.js refuses a server certificate without the right SAN`, false, 'it connected');
  } catch (e) {
    check(`${label}: MQTT.js refuses a server certificate without the right SAN`,
      /ERR_TLS_CERT_ALTNAME_INVALID|altnames/i.test(`${e.code} ${e.message}`), `${e.code} ${e.message}`);
  }
}

(async () => {
  try {
    makePki();
    const ours = await startOurBroker('server');
    await roundTrip('our broker', ours);
    const mosq = await startMosquitto();
    await roundTrip('mosquitto', mosq);
    const wrong = await startOurBroker('wrongsan');
    await refusedForSan('our broker with a wrong-SAN certificate', wrong);
  } catch (e) {
    check('no unexpected error', false, e.stack);
  } finally {
    cleanup();
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
})();
