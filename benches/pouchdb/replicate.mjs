// PouchDB baseline for the sync benchmark: how long, and how many bytes and requests, does a
// stock PouchDB push replication (`local.replicate.to(remote)`) take for the same docs?
//
//   node replicate.mjs <docs.jsonl> [--via host:port | --handshake] [--port n]
//                      [--no-keep-alive] [--no-gzip] [--adapter memory|leveldb --dir DIR]
//   node replicate.mjs --serve [--port n] [--no-gzip] [--adapter memory|leveldb --dir DIR]
//
// <docs.jsonl>: one JSON object per line, each with a string `_id`.
//
// --adapter: where both sides keep their documents. memory (the default): nothing is written.
// leveldb: PouchDB's own default on Node, files under DIR, as a laptop's and a server's data
// are kept (Sổ Tay's laptop and server write SQLite files).
//
// The server (express-pouchdb) runs in a child process (`--serve`, which prints
// its port as one line on stdout), so client and server don't share an event loop or a CPU
// the way they wouldn't in real life. The docs are bulk-loaded into a local memory PouchDB
// before the clock starts, and the server's db is created then too; only the replication is
// timed. PouchDB's defaults are kept: batch_size 100, batches_limit 10, i.e. four sequential
// requests per 100 docs (_revs_diff, _bulk_docs, then GET + PUT of the _local checkpoint):
// 40,800 docs -> 1,635 requests.
//
// Bytes and requests are counted in the server process, at the socket level (headers
// included), from just before the replication starts to its end, named from the replicating
// client's side: bytes_sent = what the server read, bytes_received = what it wrote.
//
// Routing through a relay (e.g. the emulated village link):
//   --via host:port   replicate to http://host:port/bench; the relay must already forward to
//                     the server, so it's only usable with a fixed --port.
//   --handshake       two-step handshake for a relay that needs the random server port:
//                       1. once the server is up and the docs are loaded, this script prints
//                          `server-port <n>` (one line) on stdout;
//                       2. the caller starts its relay to 127.0.0.1:<n> and writes one line to
//                          our stdin: `go <port>` (relay on 127.0.0.1), `go <host:port>`,
//                          or a bare `go` (no relay: replicate straight to the server).
//                     Replication starts on that line; the result line follows on stdout.
//
// Output: exactly one JSON line on stdout (after `server-port` in --handshake mode):
//   {"docs":N,"ms":..,"bytes_sent":..,"bytes_received":..,"requests":..,"connections":..,
//    "via":..,"keep_alive":..,"gzip":..}
// Exit 0 on success; otherwise non-zero with the reason on stderr.
//
// --no-keep-alive: stock PouchDB-on-Node, whose node-fetch sends `Connection: close` on every
// request, i.e. one new TCP connection (one more round trip) per request. The default reuses
// connections, as PouchDB in a browser or webview does, which is the fairer baseline.
// --no-gzip turns off express-pouchdb's response compression (node-fetch asks for gzip, so by
// default responses are compressed, unlike a stock CouchDB's JSON responses).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import expressPouchDB from 'express-pouchdb';
import PouchCore from 'pouchdb-core';
import httpAdapter from 'pouchdb-adapter-http';
import leveldbAdapter from 'pouchdb-adapter-leveldb';
import memoryAdapter from 'pouchdb-adapter-memory';
import replication from 'pouchdb-replication';

const PouchDB = PouchCore.plugin(leveldbAdapter).plugin(memoryAdapter).plugin(httpAdapter).plugin(replication);
const DB = 'bench';
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
// Where both sides keep their documents: 'memory' (nothing written) or 'leveldb' (PouchDB's
// default on Node: files under --dir, as a laptop's and a server's data would be).
const ADAPTER = option('--adapter') ?? 'memory';
if (!['memory', 'leveldb'].includes(ADAPTER)) fail(`--adapter: memory or leveldb, not ${ADAPTER}`);
const place = (name) => (ADAPTER === 'leveldb' ? join(option('--dir') ?? fail('--adapter leveldb needs --dir'), name) : name);
const fail = (msg) => {
  console.error(`replicate.mjs: ${msg}`);
  process.exit(1);
};

if (flag('--serve')) serve();
else main().catch((e) => fail(e?.message ?? JSON.stringify(e))); // the stack only adds PouchDB internals

function serve() {
  const pouchApp = expressPouchDB(PouchDB.defaults({ adapter: ADAPTER, prefix: ADAPTER === 'leveldb' ? place('server-') : undefined }), {
    // Only the routes a PouchDB client needs. This mode also skips the config and log
    // infrastructure, which by default writes ./config.json and ./log.txt into the cwd; the two
    // options below are belt and braces. (The full 'fullCouchDB' mode crashes on PouchDB 9 with
    // "Security methods already installed" anyway.)
    mode: 'minimumForPouchDB',
    inMemoryConfig: true,
    logPath: '/dev/null',
    overrideMode: { exclude: flag('--no-gzip') ? ['compression'] : [] },
  });
  const server = createServer(express().use(pouchApp));

  // Closed sockets are folded into `closed`; live ones (keep-alive) are read when asked.
  const live = new Set();
  const closed = { read: 0, written: 0 };
  let requests = 0;
  let connections = 0;
  server.on('connection', (s) => {
    connections++;
    live.add(s);
    s.on('close', () => {
      live.delete(s);
      closed.read += s.bytesRead;
      closed.written += s.bytesWritten;
    });
  });
  server.on('request', () => requests++);
  const totals = () => {
    const t = { read: closed.read, written: closed.written, requests, connections };
    for (const s of live) (t.read += s.bytesRead), (t.written += s.bytesWritten);
    return t;
  };

  // The parent asks over the IPC channel, so asking adds no HTTP traffic to the counts.
  let base = totals();
  process.on('message', (m) => {
    if (m === 'reset') base = totals();
    const t = totals();
    process.send({
      bytes_sent: t.read - base.read,
      bytes_received: t.written - base.written,
      requests: t.requests - base.requests,
      connections: t.connections - base.connections,
    });
  });
  process.on('disconnect', () => process.exit(0)); // parent gone: don't linger

  server.listen(Number(option('--port') ?? 0), '127.0.0.1', () => {
    console.log(server.address().port);
  });
}

async function main() {
  const file = args.find((a, i) => !a.startsWith('--') && !['--via', '--port', '--adapter', '--dir'].includes(args[i - 1]));
  if (!file) fail('usage: node replicate.mjs <docs.jsonl> [--via host:port | --handshake] [--port n] [--no-keep-alive] [--no-gzip]');
  const docs = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      let d;
      try {
        d = JSON.parse(l);
      } catch (e) {
        fail(`${file}:${i + 1}: not JSON: ${e.message}`);
      }
      if (typeof d?._id !== 'string') fail(`${file}:${i + 1}: no string _id`);
      return d;
    });
  if (!docs.length) fail(`${file}: no docs`);

  const { child, port } = await startServer();
  const ask = (m) => new Promise((resolve) => (child.once('message', resolve), child.send(m)));

  // memdown keeps one global store per db name per process, so the local name must differ
  // from the server's even though the server is in another process (in case it ever isn't).
  const local = new PouchDB(place('bench-local'), { adapter: ADAPTER });
  for (let i = 0; i < docs.length; i += 5000) {
    const bad = (await local.bulkDocs(docs.slice(i, i + 5000))).filter((r) => r.error);
    if (bad.length) fail(`loading local db: ${bad.length} docs rejected (duplicate _id?), first: ${bad[0].id}: ${bad[0].message}`);
  }
  // Create the server's db up front: a client syncing to an existing server doesn't create it.
  await new PouchDB(`http://127.0.0.1:${port}/${DB}`).info();

  let via = option('--via');
  if (flag('--handshake')) {
    console.log(`server-port ${port}`);
    const line = (await readLine()).trim();
    const m = /^go(?:\s+(\S+))?$/.exec(line);
    if (!m) fail(`handshake: expected "go [port|host:port]" on stdin, got ${JSON.stringify(line)}`);
    via = m[1] && (m[1].includes(':') ? m[1] : `127.0.0.1:${m[1]}`);
  }
  const target = via || `127.0.0.1:${port}`;
  // A fresh remote object, so its setup request (GET /bench) is counted like a real client's.
  const keepAlive = !flag('--no-keep-alive');
  const agent = keepAlive && new Agent({ keepAlive: true });
  const remote = new PouchDB(`http://${target}/${DB}`, {
    fetch: keepAlive ? (url, o) => PouchDB.fetch(url, { ...o, agent }) : undefined,
  });

  await ask('reset');
  const t0 = performance.now();
  const result = await local.replicate.to(remote);
  const ms = performance.now() - t0;
  const stats = await ask('stats');

  if (!result.ok || result.doc_write_failures) {
    fail(`replication not ok: ${JSON.stringify({ ...result, errors: result.errors?.slice(0, 3) })}`);
  }
  const info = await new PouchDB(`http://127.0.0.1:${port}/${DB}`).info();
  if (info.doc_count !== docs.length) fail(`server has ${info.doc_count} docs, expected ${docs.length}`);

  console.log(JSON.stringify({ docs: docs.length, ms: Math.round(ms * 10) / 10, ...stats, via: via || null, keep_alive: keepAlive, gzip: !flag('--no-gzip') }));
  child.kill();
  process.exit(0);
}

function startServer() {
  const serveArgs = ['--serve', ...(option('--port') ? ['--port', option('--port')] : [])];
  serveArgs.push('--adapter', ADAPTER, ...(option('--dir') ? ['--dir', option('--dir')] : []));
  if (flag('--no-gzip')) serveArgs.push('--no-gzip');
  const child = fork(fileURLToPath(import.meta.url), serveArgs, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  child.on('exit', (code, sig) => fail(`server process exited (${sig || code})`));
  return new Promise((resolve) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (l) => resolve({ child, port: Number(l) }));
  });
}

function readLine() {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin });
    rl.once('line', (l) => (resolve(l), rl.close())); // resolve first: close() fires 'close' synchronously
    rl.once('close', () => reject(new Error('handshake: stdin closed before a "go" line')));
  });
}
