// tests/clients/node/ioredis_suite.js: ioredis as an application uses it.
//
//   node ioredis_suite.js 2|3      the protocol the client is created with (its `protocol` option)
//
// Run by tests/clients/driver.py (its docstring has the protocol), once against redis-server and
// once against tessera-server, with the same expectations; the suites ioredis-resp2 and
// ioredis-resp3 in unsupported.txt. ioredis 6 asks for RESP3 by default (HELLO 3) and falls back
// to RESP2 when the server answers NOPROTO; `connect_hello` checks which protocol the connection
// really speaks (HELLO's `proto`). Each call opens its own client with a command timeout and uses
// its own keys ("io<protocol>:<call>:..."); reconnect_after_restart restarts the server.
'use strict';

const {
  HOST, PORT, CALL_TIMEOUT_MS, track, expect, expectError, restartServer, waitFor, runSuite,
  requireInstalled,
} = require('./harness');

const Redis = requireInstalled('ioredis');
const ioredisPackage = requireInstalled('ioredis/package.json');

const PROTOCOL = Number(process.argv[2]);
if (PROTOCOL !== 2 && PROTOCOL !== 3) {
  process.stderr.write('usage: ioredis_suite.js 2|3\n');
  process.exit(2);
}
const P = `io${PROTOCOL}`; // key prefix

// A connected client; `lazyConnect` makes connect() report the handshake's outcome, and the
// command timeout and the retry limits keep every call bounded.
async function connect(extra = {}) {
  const client = track(new Redis({
    host: HOST,
    port: PORT,
    protocol: PROTOCOL,
    lazyConnect: true,
    connectTimeout: CALL_TIMEOUT_MS,
    commandTimeout: CALL_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null, // no reconnection unless a call asks for it
    ...extra,
  }), (c) => c.disconnect());
  client.on('error', () => {}); // the calls see errors as rejections
  await client.connect();
  return client;
}

// A field of HELLO's reply: a flat [name, value, ...] array with ioredis's default mapping.
function field(reply, name) {
  for (let i = 0; i + 1 < reply.length; i += 2) if (String(reply[i]) === name) return reply[i + 1];
  return undefined;
}

const calls = [
  ['connect_hello', async () => {
    const c = await connect();
    const hello = await c.call('HELLO');
    expect(Number(field(hello, 'proto')), PROTOCOL, 'the protocol HELLO reports for this client');
    expect(String(field(hello, 'version')), '7.0.15', 'HELLO version');
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
    expect(await c.set(k, 'a', 'XX'), null, 'SET XX of a missing key');
    expect(await c.set(k, 'a', 'NX'), 'OK', 'SET NX of a missing key');
    expect(await c.set(k, 'b', 'NX'), null, 'SET NX of an existing key');
    expect(await c.set(k, 'c', 'GET'), 'a', 'SET GET');
    expect(await c.get(k), 'c', 'GET after SET GET');
  }],

  ['set_expiration', async () => {
    const c = await connect();
    const k = `${P}:set_expiration:k`;
    expect(await c.set(k, 'v', 'EX', 100), 'OK', 'SET EX');
    const ttl = await c.ttl(k);
    if (!(ttl > 90 && ttl <= 100)) throw new Error(`TTL after SET EX 100: ${ttl}`);
    expect(await c.setex(`${P}:set_expiration:setex`, 100, 'v'), 'OK', 'SETEX');
    expect(await c.expire(k, 200), 1, 'EXPIRE');
    expect(await c.persist(k), 1, 'PERSIST');
  }],

  ['mget_mset', async () => {
    const c = await connect();
    const entries = Array.from({ length: 50 }, (_, i) => [`${P}:mget:${i}`, `value-${i}`]);
    expect(await c.mset(Object.fromEntries(entries)), 'OK', 'MSET of an object of 50 keys');
    expect(await c.mget(...entries.map(([k]) => k), `${P}:mget:missing`),
           [...entries.map(([, v]) => v), null], 'MGET');
    expect(await c.mset(`${P}:mget:a`, '1', `${P}:mget:b`, '2'), 'OK', 'MSET of varargs');
    expect(await c.mget([`${P}:mget:a`, `${P}:mget:b`]), ['1', '2'], 'MGET of an array');
  }],

  ['del_exists_type', async () => {
    const c = await connect();
    const keys = Array.from({ length: 10 }, (_, i) => `${P}:del:${i}`);
    await c.mset(Object.fromEntries(keys.map((k) => [k, 'v'])));
    expect(await c.exists(...keys, `${P}:del:missing`), 10, 'EXISTS');
    expect(await c.del(...keys.slice(0, 4), `${P}:del:missing`), 4, 'DEL');
    expect(await c.exists(keys), 6, 'EXISTS after DEL');
    expect(await c.type(keys[5]), 'string', 'TYPE');
    expect(await c.type(`${P}:del:missing`), 'none', 'TYPE of a missing key');
    expect(await c.strlen(keys[5]), 1, 'STRLEN');
  }],

  ['binary_values', async () => {
    const c = await connect();
    const everyByte = Buffer.from(Array.from({ length: 1024 }, (_, i) => i & 0xff));
    const large = Buffer.alloc(1 << 20);
    for (let i = 0; i < large.length; i++) large[i] = (i * 7919) >> 3;
    const key = Buffer.from([0x69, 0x6f, 0x3a, 0x00, 0xff, 0x0d, 0x0a]);
    expect(await c.set(key, everyByte), 'OK', 'SET of every byte value under a binary key');
    expect(await c.getBuffer(key), everyByte, 'getBuffer of every byte value');
    expect(await c.set(`${P}:binary:large`, large), 'OK', 'SET of 1 MiB');
    expect((await c.getBuffer(`${P}:binary:large`)).equals(large), true, 'getBuffer of 1 MiB');
    expect(await c.mgetBuffer(key, `${P}:binary:missing`), [everyByte, null], 'mgetBuffer');
    const text = 'naïve café 😀';
    await c.set(`${P}:binary:utf8`, text);
    expect(await c.get(`${P}:binary:utf8`), text, 'GET of UTF-8 text');
  }],

  ['counters', async () => {
    const c = await connect();
    const k = `${P}:counters:n`;
    expect(await c.incr(k), 1, 'INCR');
    expect(await c.incrby(k, 41), 42, 'INCRBY');
    expect(await c.decr(k), 41, 'DECR');
    expect(await c.decrby(k, 40), 1, 'DECRBY');
    expect(await c.incrbyfloat(k, 0.5), '1.5', 'INCRBYFLOAT');
  }],

  ['getdel', async () => {
    const c = await connect();
    await c.set(`${P}:getdel:k`, 'v');
    expect(await c.getdel(`${P}:getdel:k`), 'v', 'GETDEL');
    expect(await c.exists(`${P}:getdel:k`), 0, 'EXISTS after GETDEL');
  }],

  ['getex', async () => {
    const c = await connect();
    const k = `${P}:getex:k`;
    await c.set(k, 'v');
    expect(await c.getex(k, 'EX', 100), 'v', 'GETEX EX');
    const ttl = await c.ttl(k);
    if (!(ttl > 90 && ttl <= 100)) throw new Error(`TTL after GETEX EX 100: ${ttl}`);
    expect(await c.getex(k, 'PERSIST'), 'v', 'GETEX PERSIST');
  }],

  ['multi_exec', async () => {
    const c = await connect();
    const replies = await c.multi().set(`${P}:multi:a`, '1').get(`${P}:multi:a`).exec();
    expect(replies, [[null, 'OK'], [null, '1']], 'MULTI/EXEC replies');
  }],

  ['pipeline', async () => {
    const c = await connect();
    const p = c.pipeline();
    for (let i = 0; i < 100; i++) p.set(`${P}:pipe:${i}`, String(i));
    p.call('NOSUCH', 'x');
    for (let i = 0; i < 100; i++) p.get(`${P}:pipe:${i}`);
    const replies = await p.exec();
    expect(replies.slice(0, 100), Array(100).fill([null, 'OK']), 'the pipelined SETs');
    const [error] = replies[100];
    expect(error && error.message, "ERR unknown command 'NOSUCH', with args beginning with: 'x' ",
           'the error in place');
    expect(replies.slice(101), Array.from({ length: 100 }, (_, i) => [null, String(i)]),
           'the pipelined GETs');
  }],

  ['auto_pipelining', async () => {
    const c = await connect({ enableAutoPipelining: true });
    const sets = Array.from({ length: 1000 }, (_, i) => c.set(`${P}:auto:${i}`, `v${i}`));
    const queued = c.autoPipelineQueueSize;
    expect(await Promise.all(sets), Array(1000).fill('OK'), 'auto-pipelined SETs');
    if (queued < 1) throw new Error('enableAutoPipelining queued no commands');
    const gets = Array.from({ length: 1000 }, (_, i) => c.get(`${P}:auto:${i}`));
    expect(await Promise.all(gets), Array.from({ length: 1000 }, (_, i) => `v${i}`),
           'auto-pipelined GETs');
  }],

  ['scan_stream', async () => {
    const c = await connect();
    const wanted = Array.from({ length: 300 }, (_, i) => `${P}:scan:${i}`);
    await c.mset(Object.fromEntries(wanted.map((k) => [k, 'v'])));
    const others = Array.from({ length: 30 }, (_, i) => [`${P}:other:${i}`, 'v']);
    await c.mset(Object.fromEntries(others));
    const collect = (options) => new Promise((resolve, reject) => {
      const seen = new Set();
      const stream = c.scanStream(options);
      stream.on('data', (keys) => keys.forEach((k) => seen.add(k)));
      stream.on('end', () => resolve([...seen].sort()));
      stream.on('error', reject);
    });
    expect(await collect({ match: `${P}:scan:*`, count: 50 }), [...wanted].sort(),
           'the keys scanStream MATCH returned');
    expect(await collect({ match: `${P}:scan:1*`, count: 1000, type: 'string' }),
           wanted.filter((k) => k.startsWith(`${P}:scan:1`)).sort(),
           'scanStream MATCH TYPE string');
  }],

  ['info', async () => {
    const c = await connect();
    const server = await c.info('server');
    if (!server.includes('# Server\r\n') || !server.includes('\r\nredis_version:7.0.15\r\n')) {
      throw new Error(`INFO server: ${server.slice(0, 200)}`);
    }
    const all = await c.info();
    if (!/\r\nconnected_clients:\d+\r\n/.test(all)) throw new Error('INFO: no connected_clients');
    if ((await c.dbsize()) < 0) throw new Error('DBSIZE');
  }],

  ['connection_name', async () => {
    const c = await connect({ connectionName: 'ioredis-suite' });
    expect(await c.client('GETNAME'), 'ioredis-suite', 'CLIENT GETNAME');
    expect(await c.client('SETNAME', 'renamed'), 'OK', 'CLIENT SETNAME');
    expect(await c.client('GETNAME'), 'renamed', 'CLIENT GETNAME after SETNAME');
  }],

  ['error_replies', async () => {
    const c = await connect();
    await expectError(c.call('NOSUCH', 'a', 'b'),
                      "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ",
                      'an unknown command');
    await expectError(c.call('GET'), "ERR wrong number of arguments for 'get' command",
                      'GET without a key');
    expect(await c.ping(), 'PONG', 'PING after the errors');
  }],

  ['reconnect_after_restart', async () => {
    let readyCount = 0;
    const c = await connect({ retryStrategy: (times) => Math.min(20 * times, 200),
                              maxRetriesPerRequest: 20 });
    c.on('ready', () => readyCount++);
    expect(await c.set(`${P}:reconnect:k`, 'v'), 'OK', 'SET before the restart');
    await restartServer();
    // Issued while the client may not have noticed yet: queued (offline queue), sent once ready.
    expect(await c.ping(), 'PONG', 'PING after the restart');
    await waitFor(() => readyCount >= 1 && c.status === 'ready', CALL_TIMEOUT_MS,
                  'the client ready again');
    expect(await c.get(`${P}:reconnect:k`), null, 'GET after the restart (memory only)');
    expect(await c.set(`${P}:reconnect:k`, 'w'), 'OK', 'SET after the restart');
  }],
];

runSuite(`ioredis ${ioredisPackage.version} (protocol ${PROTOCOL} asked)`, calls);
