// tests/clients/node/node_redis_suite.js: node-redis (npm `redis`) as an application uses it.
//
//   node node_redis_suite.js 2|3      the protocol the client is created with (its RESP option)
//
// Run by tests/clients/driver.py (its docstring has the protocol), once against redis-server and
// once against tessera-server, with the same expectations; the suites node-redis-resp2 and
// node-redis-resp3 in unsupported.txt. node-redis 6 speaks RESP3 unless told otherwise: it opens
// with HELLO 3 and does not fall back to RESP2 when the server refuses. Each call opens its own
// client and uses its own keys ("nr<resp>:<call>:..."), so a failed call leaves nothing that
// another one depends on (reconnect_after_restart restarts the server).
'use strict';

const {
  HOST, PORT, CALL_TIMEOUT_MS, track, expect, expectError, restartServer, waitFor, runSuite,
  requireInstalled,
} = require('./harness');

const { createClient, createClientPool, RESP_TYPES } = requireInstalled('redis');
const redisPackage = requireInstalled('redis/package.json');

const RESP = Number(process.argv[2]);
if (RESP !== 2 && RESP !== 3) {
  process.stderr.write('usage: node_redis_suite.js 2|3\n');
  process.exit(2);
}
const P = `nr${RESP}`; // key prefix

function clientOptions(extra = {}) {
  return {
    RESP,
    ...extra,
    socket: { host: HOST, port: PORT, connectTimeout: CALL_TIMEOUT_MS, reconnectStrategy: false,
              ...(extra.socket || {}) },
  };
}

// A connected client. The handshake's first error (e.g. NOPROTO for HELLO 3) fails the call at
// once instead of waiting for a timeout; later errors surface as the calls' rejections.
async function connect(extra = {}) {
  const client = track(createClient(clientOptions(extra)), (c) => c.destroy());
  const firstError = new Promise((_, reject) => client.once('error', reject));
  client.on('error', () => {});
  await Promise.race([client.connect(), firstError]);
  return client;
}

// A field of a map reply, whichever shape the protocol gave it (RESP2: a flat array).
function field(reply, name) {
  if (reply instanceof Map) return reply.get(name);
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) {
      if (String(reply[i]) === name) return reply[i + 1];
    }
    return undefined;
  }
  return reply ? reply[name] : undefined;
}

const calls = [
  ['connect_hello', async () => {
    const c = await connect();
    const hello = await c.sendCommand(['HELLO']);
    expect(Number(field(hello, 'proto')), RESP, 'the protocol HELLO reports for the connection');
    expect(field(hello, 'version'), '7.0.15', 'HELLO version');
  }],

  ['ping_echo', async () => {
    const c = await connect();
    expect(await c.ping(), 'PONG', 'PING');
    expect(await c.ping('hello'), 'hello', 'PING with a message');
    expect(await c.echo('echo me'), 'echo me', 'ECHO');
  }],

  ['set_get', async () => {
    const c = await connect();
    expect(await c.set(`${P}:set_get:k`, 'v1'), 'OK', 'SET');
    expect(await c.get(`${P}:set_get:k`), 'v1', 'GET');
    expect(await c.get(`${P}:set_get:missing`), null, 'GET of a missing key');
    expect(await c.set(`${P}:set_get:n`, 42), 'OK', 'SET of a number');
    expect(await c.get(`${P}:set_get:n`), '42', 'GET of a number');
  }],

  ['set_options', async () => {
    const c = await connect();
    const k = `${P}:set_options:k`;
    expect(await c.set(k, 'a', { condition: 'XX' }), null, 'SET XX of a missing key');
    expect(await c.set(k, 'a', { condition: 'NX' }), 'OK', 'SET NX of a missing key');
    expect(await c.set(k, 'b', { condition: 'NX' }), null, 'SET NX of an existing key');
    expect(await c.set(k, 'c', { GET: true }), 'a', 'SET GET');
    expect(await c.get(k), 'c', 'GET after SET GET');
  }],

  ['set_expiration', async () => {
    const c = await connect();
    const k = `${P}:set_expiration:k`;
    expect(await c.set(k, 'v', { expiration: { type: 'EX', value: 100 } }), 'OK', 'SET EX');
    const ttl = await c.ttl(k);
    if (!(ttl > 90 && ttl <= 100)) throw new Error(`TTL after SET EX 100: ${ttl}`);
    expect(await c.expire(k, 200), 1, 'EXPIRE');
    expect(await c.persist(k), 1, 'PERSIST');
    expect(await c.ttl(k), -1, 'TTL after PERSIST');
  }],

  ['mget_mset', async () => {
    const c = await connect();
    const entries = Array.from({ length: 50 }, (_, i) => [`${P}:mget:${i}`, `value-${i}`]);
    expect(await c.mSet(entries), 'OK', 'MSET of 50 keys');
    expect(await c.mGet([...entries.map(([k]) => k), `${P}:mget:missing`]),
           [...entries.map(([, v]) => v), null], 'MGET');
    expect(await c.mSet({ [`${P}:mget:obj`]: 'o' }), 'OK', 'MSET of an object');
    expect(await c.mGet([`${P}:mget:obj`]), ['o'], 'MGET of one key');
  }],

  ['del_exists_type', async () => {
    const c = await connect();
    const keys = Array.from({ length: 10 }, (_, i) => `${P}:del:${i}`);
    await c.mSet(keys.map((k) => [k, 'v']));
    expect(await c.exists([...keys, `${P}:del:missing`]), 10, 'EXISTS');
    expect(await c.del([...keys.slice(0, 4), `${P}:del:missing`]), 4, 'DEL');
    expect(await c.exists(keys), 6, 'EXISTS after DEL');
    expect(await c.type(keys[5]), 'string', 'TYPE');
    expect(await c.type(`${P}:del:missing`), 'none', 'TYPE of a missing key');
    expect(await c.strLen(keys[5]), 1, 'STRLEN');
  }],

  ['binary_values', async () => {
    const c = await connect();
    const b = c.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    const everyByte = Buffer.from(Array.from({ length: 1024 }, (_, i) => i & 0xff));
    const large = Buffer.alloc(1 << 20);
    for (let i = 0; i < large.length; i++) large[i] = (i * 7919) >> 3;
    const key = Buffer.from([0x6e, 0x72, 0x3a, 0x00, 0xff, 0x0d, 0x0a]);
    expect(await c.set(key, everyByte), 'OK', 'SET of every byte value under a binary key');
    expect(await b.get(key), everyByte, 'GET of every byte value');
    expect(await c.set(`${P}:binary:large`, large), 'OK', 'SET of 1 MiB');
    expect((await b.get(`${P}:binary:large`)).equals(large), true, 'GET of 1 MiB');
    expect(await c.set(`${P}:binary:empty`, ''), 'OK', 'SET of an empty value');
    expect(await c.get(`${P}:binary:empty`), '', 'GET of an empty value');
    const text = 'naïve café 😀';
    await c.set(`${P}:binary:utf8`, text);
    expect(await c.get(`${P}:binary:utf8`), text, 'GET of UTF-8 text');
  }],

  ['counters', async () => {
    const c = await connect();
    const k = `${P}:counters:n`;
    expect(await c.incr(k), 1, 'INCR');
    expect(await c.incrBy(k, 41), 42, 'INCRBY');
    expect(await c.decr(k), 41, 'DECR');
    expect(await c.decrBy(k, 40), 1, 'DECRBY');
    expect(await c.incrByFloat(k, 0.5), '1.5', 'INCRBYFLOAT');
  }],

  ['getdel', async () => {
    const c = await connect();
    await c.set(`${P}:getdel:k`, 'v');
    expect(await c.getDel(`${P}:getdel:k`), 'v', 'GETDEL');
    expect(await c.exists(`${P}:getdel:k`), 0, 'EXISTS after GETDEL');
  }],

  ['getex', async () => {
    const c = await connect();
    const k = `${P}:getex:k`;
    await c.set(k, 'v');
    expect(await c.getEx(k, { type: 'EX', value: 100 }), 'v', 'GETEX EX');
    const ttl = await c.ttl(k);
    if (!(ttl > 90 && ttl <= 100)) throw new Error(`TTL after GETEX EX 100: ${ttl}`);
    expect(await c.getEx(k, { type: 'PERSIST' }), 'v', 'GETEX PERSIST');
  }],

  ['multi_exec', async () => {
    const c = await connect();
    const replies = await c.multi().set(`${P}:multi:a`, '1').set(`${P}:multi:b`, '2')
      .get(`${P}:multi:a`).mGet([`${P}:multi:a`, `${P}:multi:b`]).exec();
    expect(replies, ['OK', 'OK', '1', ['1', '2']], 'MULTI/EXEC replies');
  }],

  ['watch_multi', async () => {
    const c = await connect();
    const k = `${P}:watch:n`;
    await c.set(k, '10');
    await c.watch(k);
    const value = Number(await c.get(k));
    expect(await c.multi().set(k, String(value + 1)).exec(), ['OK'], 'WATCH then MULTI/EXEC');
    expect(await c.get(k), '11', 'the value after the transaction');
  }],

  ['pipeline', async () => {
    const c = await connect();
    const m = c.multi();
    for (let i = 0; i < 100; i++) m.set(`${P}:pipe:${i}`, String(i));
    for (let i = 0; i < 100; i++) m.get(`${P}:pipe:${i}`);
    const replies = await m.execAsPipeline();
    expect(replies.slice(0, 100), Array(100).fill('OK'), 'the pipelined SETs');
    expect(replies.slice(100), Array.from({ length: 100 }, (_, i) => String(i)),
           'the pipelined GETs');
  }],

  ['auto_pipelining', async () => {
    // Commands issued in the same tick go out in one write; the replies must match in order.
    const c = await connect();
    const sets = Array.from({ length: 1000 }, (_, i) => c.set(`${P}:auto:${i}`, `v${i}`));
    expect(await Promise.all(sets), Array(1000).fill('OK'), 'SETs issued together');
    const gets = Array.from({ length: 1000 }, (_, i) => c.get(`${P}:auto:${i}`));
    expect(await Promise.all(gets), Array.from({ length: 1000 }, (_, i) => `v${i}`),
           'GETs issued together');
  }],

  ['scan_iterator', async () => {
    const c = await connect();
    const wanted = Array.from({ length: 300 }, (_, i) => `${P}:scan:${i}`);
    await c.mSet(wanted.map((k) => [k, 'v']));
    await c.mSet(Array.from({ length: 30 }, (_, i) => [`${P}:other:${i}`, 'v']));
    const seen = new Set();
    for await (const keys of c.scanIterator({ MATCH: `${P}:scan:*`, COUNT: 50 })) {
      for (const k of keys) seen.add(k);
    }
    expect([...seen].sort(), [...wanted].sort(), 'the keys scanIterator MATCH returned');
    const typed = new Set();
    const typedScan = { MATCH: `${P}:scan:1*`, COUNT: 1000, TYPE: 'string' };
    for await (const keys of c.scanIterator(typedScan)) {
      for (const k of keys) typed.add(k);
    }
    expect([...typed].sort(), wanted.filter((k) => k.startsWith(`${P}:scan:1`)).sort(),
           'scanIterator MATCH TYPE string');
    expect((await c.keys(`${P}:scan:29*`)).sort(),
           wanted.filter((k) => k.startsWith(`${P}:scan:29`)).sort(), 'KEYS');
  }],

  ['info', async () => {
    const c = await connect();
    const server = String(await c.info('server'));
    if (!server.includes('# Server\r\n') || !server.includes('\r\nredis_version:7.0.15\r\n')) {
      throw new Error(`INFO server: ${server.slice(0, 200)}`);
    }
    if (server.includes('# Clients')) throw new Error('INFO server has the clients section too');
    const all = String(await c.info());
    if (!/\r\nconnected_clients:\d+\r\n/.test(all)) throw new Error('INFO: no connected_clients');
    if ((await c.dbSize()) < 0) throw new Error('DBSIZE');
  }],

  ['client_name', async () => {
    // The name goes in the handshake: CLIENT SETNAME (RESP2) or HELLO 3 SETNAME (RESP3).
    const c = await connect({ name: 'node-redis-suite' });
    expect(await c.clientGetName(), 'node-redis-suite', 'CLIENT GETNAME');
    expect(await c.clientSetName('renamed'), 'OK', 'CLIENT SETNAME');
    expect(await c.clientGetName(), 'renamed', 'CLIENT GETNAME after SETNAME');
    if (typeof (await c.clientId()) !== 'number') throw new Error('CLIENT ID is not a number');
  }],

  ['error_replies', async () => {
    const c = await connect();
    await expectError(c.sendCommand(['NOSUCH', 'a', 'b']),
                      "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ",
                      'an unknown command');
    await expectError(c.sendCommand(['GET']), "ERR wrong number of arguments for 'get' command",
                      'GET without a key');
    expect(await c.ping(), 'PONG', 'PING after the errors');
  }],

  ['client_pool', async () => {
    const pool = track(createClientPool(clientOptions(), { minimum: 1, maximum: 4 }),
                       (p) => p.destroy());
    pool.on('error', () => {});
    await pool.connect();
    const sets = Array.from({ length: 40 }, (_, i) => pool.set(`${P}:pool:${i}`, `v${i}`));
    expect(await Promise.all(sets), Array(40).fill('OK'), 'SETs through the pool');
    const values = await pool.execute((c) => c.mGet([`${P}:pool:0`, `${P}:pool:39`]));
    expect(values, ['v0', 'v39'], 'MGET on a client of the pool');
  }],

  ['reconnect_after_restart', async () => {
    let readyCount = 0;
    const reconnectStrategy = (retries) => Math.min(20 * (retries + 1), 200);
    const c = await connect({ socket: { reconnectStrategy } });
    c.on('ready', () => readyCount++);
    expect(await c.set(`${P}:reconnect:k`, 'v'), 'OK', 'SET before the restart');
    await restartServer();
    // Issued while the client may not have noticed yet: it is queued, and sent once reconnected.
    expect(await c.ping(), 'PONG', 'PING after the restart');
    await waitFor(() => readyCount >= 1 && c.isReady, CALL_TIMEOUT_MS, 'the client ready again');
    expect(await c.get(`${P}:reconnect:k`), null, 'GET after the restart (memory only)');
    expect(await c.set(`${P}:reconnect:k`, 'w'), 'OK', 'SET after the restart');
  }],
];

runSuite(`node-redis ${redisPackage.version} (npm redis, RESP${RESP} asked)`, calls);
