// peer.js: the CouchDB-protocol peer of `ruhu bench peer`. It serves
// PouchDB (leveldb adapter, files on disk) through express-pouchdb on a
// loopback port, with express-pouchdb's gzip compression and node's
// keep-alive, and prints {"url": "http://127.0.0.1:PORT"} on one line of
// stdout once it listens. It stops when its stdin closes, so a parent that
// dies takes it along.
//
// usage: node peer.js DATA_DIR [--fsync]
//
// --fsync makes every LevelDB write batch sync to disk (PouchDB's default
// is not to: a write returns once it is in the OS cache), for a comparison
// with a store that fsyncs each commit.
'use strict';

const path = require('path');
const http = require('http');
const express = require('express');
const PouchDB = require('pouchdb');
const expressPouchDB = require('express-pouchdb');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node peer.js DATA_DIR [--fsync]');
  process.exit(2);
}
const fsync = process.argv.includes('--fsync');

const opts = { prefix: path.resolve(dir) + path.sep };
if (fsync) {
  const leveldown = require('leveldown');
  opts.db = (name) => {
    const db = leveldown(name);
    const batch = db._batch.bind(db);
    db._batch = (ops, options, cb) => batch(ops, Object.assign({}, options, { sync: true }), cb);
    const put = db._put.bind(db);
    db._put = (key, value, options, cb) => put(key, value, Object.assign({}, options, { sync: true }), cb);
    return db;
  };
}
const Peer = PouchDB.defaults(opts);

const app = express();
// minimumForPouchDB: the routes replication uses (and compression), with
// no config file or log file written beside the data.
app.use('/', expressPouchDB(Peer, { mode: 'minimumForPouchDB', inMemoryConfig: true }));

const server = http.createServer(app);
server.keepAliveTimeout = 60000;
server.headersTimeout = 65000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(JSON.stringify({ url: 'http://127.0.0.1:' + port }) + '\n');
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
