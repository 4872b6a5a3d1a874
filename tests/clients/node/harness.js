// tests/clients/node/harness.js: what the Node suites share (tests/clients/driver.py's protocol).
//
// A suite is a list of [name, async function] pairs; runSuite() runs them in order, each under a
// timeout (TESSERA_CLIENTS_CALL_TIMEOUT seconds, times three: a call makes several round trips),
// prints "RESULT <name> pass|fail <why>", then closes what the calls left open (track()) and
// exits. A call passes when its promise resolves, and fails when it rejects or times out; a call
// that timed out may leave a client behind, which the final close ends.
'use strict';

const { isDeepStrictEqual, inspect } = require('node:util');
const readline = require('node:readline');

const HOST = process.env.TESSERA_CLIENTS_HOST || '127.0.0.1';
const PORT = Number(process.env.TESSERA_CLIENTS_PORT || 6379);
const CALL_TIMEOUT_MS = 1000 * Number(process.env.TESSERA_CLIENTS_CALL_TIMEOUT || 5);

// Clients opened by calls, closed at the end whatever happened: [client, close function].
const opened = [];
function track(client, close) {
  opened.push([client, close]);
  return client;
}

function show(value) {
  return inspect(value,
                 { depth: 4, maxArrayLength: 8, maxStringLength: 120, breakLength: Infinity });
}

function expect(actual, expected, what) {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

// `promise` must reject with an error whose message is exactly `text` (Redis's words).
async function expectError(promise, text, what) {
  let reply;
  try {
    reply = await promise;
  } catch (e) {
    expect(e.message, text, `${what} (error text)`);
    return;
  }
  throw new Error(`${what}: expected the error ${show(text)}, got the reply ${show(reply)}`);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Answers from the driver on stdin, one line each (to CONTROL requests).
let answers;
function nextAnswer() {
  if (!answers) {
    const rl = readline.createInterface({ input: process.stdin });
    const queue = [];
    const waiting = [];
    rl.on('line', (line) => (waiting.length ? waiting.shift()(line) : queue.push(line)));
    rl.on('close', () => waiting.splice(0).forEach((resolve) => resolve('')));
    answers = () =>
      (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r)));
  }
  return answers();
}

// Asks the driver to restart the server (same port, data lost) and waits until it has.
async function restartServer() {
  process.stdout.write('CONTROL restart\n');
  const answer = (await withTimeout(nextAnswer(), 20000, 'the restart')).trim();
  if (answer !== 'OK') {
    throw new Error(`the driver could not restart the server: ${answer || 'no answer'}`);
  }
}

// require(), with the fix in the message where scripts/setup has not installed the packages.
function requireInstalled(name) {
  try {
    return require(name);
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
    process.stderr.write(`${name} is not installed in tests/clients/node: run scripts/setup test ` +
                         '(npm ci there, from package-lock.json)\n');
    process.exit(1);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves once `condition()` is true, checking every 10 ms; rejects after `ms`.
async function waitFor(condition, ms, what) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await sleep(10);
  }
}

async function runSuite(version, calls) {
  process.stdout.write(`VERSION ${version}, Node ${process.versions.node}\n`);
  for (const [name, fn] of calls) {
    let line;
    try {
      await withTimeout(Promise.resolve().then(fn), 3 * CALL_TIMEOUT_MS, 'the call');
      line = `RESULT ${name} pass`;
    } catch (e) {
      const why = String((e && e.message) || e).replace(/\s+/g, ' ').slice(0, 500);
      line = `RESULT ${name} fail ${(e && e.constructor && e.constructor.name) || 'Error'}: ${why}`;
    }
    process.stdout.write(line + '\n');
  }
  for (const [client, close] of opened.splice(0)) {
    try {
      await withTimeout(Promise.resolve().then(() => close(client)), 2000, 'closing a client');
    } catch {
      // the process exits below anyway
    }
  }
  // Let stdout drain, then exit even if a library keeps a timer or socket alive.
  process.stdout.write('', () => process.exit(0));
}

module.exports = {
  HOST, PORT, CALL_TIMEOUT_MS, track, expect, expectError, withTimeout, restartServer, sleep,
  waitFor, runSuite, requireInstalled,
};
