// ioredis 5 and node-redis 4 and 5 (RESP3) against a running tollgated:
// multi() of CHECKs, AUTH, the connect handshakes.
// Usage: node node_clients_test.mjs <data socket> <password> <node_modules dir>
// Exit 0: passed; 77: the clients are not installed (skipped); else failed.
import { createRequire } from 'node:module';
import path from 'node:path';

const [sock, password, modules] = process.argv.slice(2);
const require = createRequire(path.join(modules, 'index.js'));
let Redis, redis4, redis5;
try {
  Redis = require('ioredis');
  redis4 = require('redis4');
  redis5 = require('redis5');
} catch (e) {
  console.log('SKIP: node clients not installed: ' + e.message);
  process.exit(77);
}

function expect(cond, what) {
  if (!cond) {
    console.log('FAILED: ' + what);
    process.exit(1);
  }
}

async function ioredisTest() {
  const r = new Redis({ path: sock, password, lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  const ok = await r.multi().call('CHECK', 'ip:io').call('CHECK', 'partner:acme').exec();
  expect(ok[0][0] === null && ok[0][1][1] === 'OK', 'ioredis multi allowed: ' + JSON.stringify(ok));
  expect(ok[1][1][1] === 'OK', 'ioredis contract allowed: ' + JSON.stringify(ok));
  const no = await r.multi().call('CHECK', 'ip:io').call('CHECK', 'partner:acme', 'COST', '5').exec();
  expect(no[0][1][1] === 'ABORTED' && no[1][1][1] === 'QUOTA', 'ioredis ABORTED: ' + JSON.stringify(no));
  const peek = await r.call('PEEK', 'ip:io');
  expect(peek[3] === 3, 'ioredis: ip kept its tokens: ' + JSON.stringify(peek));
  await r.quit();
}

async function nodeRedisTest(lib, name, resp) {
  const options = { socket: { path: sock, reconnectStrategy: false }, password };
  if (resp) options.RESP = resp;
  const c = lib.createClient(options);
  c.on('error', () => {});
  await c.connect();
  const ok = await c.multi().addCommand(['CHECK', 'ip:' + name]).addCommand(['CHECK', 'ip:' + name]).exec();
  expect(ok.length === 2 && ok[0][1] === 'OK' && ok[1][1] === 'OK', name + ' multi: ' + JSON.stringify(ok));
  const no = await c.multi().addCommand(['CHECK', 'ip:' + name]).addCommand(['CHECK', 'nobody']).exec();
  expect(no[0][1] === 'ABORTED' && no[1][1] === 'UNKNOWN', name + ' ABORTED: ' + JSON.stringify(no));
  const peek = await c.sendCommand(['PEEK', 'ip:' + name]);
  expect(peek[3] === 2, name + ': kept its tokens: ' + JSON.stringify(peek));
  if (resp === 3) {
    const cfg = await c.sendCommand(['CONFIG', 'GET', 'save']);
    expect(cfg !== null && !Array.isArray(cfg), name + ' RESP3 CONFIG GET is a map: ' + JSON.stringify(cfg));
  }
  await c.quit();
}

try {
  await ioredisTest();
  await nodeRedisTest(redis4, 'redis4', 0);
  await nodeRedisTest(redis5, 'redis5', 3);
} catch (e) {
  console.log('FAILED: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
}
console.log('OK');
process.exit(0);
