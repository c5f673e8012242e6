// replicate.js: PouchDB 9's own replicator, the client side of the
// comparison the issue measured ("PouchDB 9 → express-pouchdb 4.2"). It
// prepares, then waits for a line on stdin, replicates once, and prints
// {"docs_written": N, "docs_read": N} on stdout.
//
// usage: node replicate.js push|pull REMOTE_DB_URL DOCS_JSON LOCAL_DIR BATCH
//
// push: the documents of DOCS_JSON (an array, each with _rev and
// _revisions) are first written into a fresh local PouchDB on LevelDB in
// LOCAL_DIR, as a tablet holds them before it syncs; then the local
// database replicates to REMOTE_DB_URL. pull: REMOTE_DB_URL replicates into
// a fresh local PouchDB (DOCS_JSON is not read). BATCH is the replicator's
// batch_size (PouchDB's default is 100). It prints {"ready": true} when the
// preparation is done, so that only the replication is timed.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const PouchDB = require('pouchdb');

const [direction, remoteURL, docsFile, localDir, batchArg] = process.argv.slice(2);
if (!['push', 'pull'].includes(direction) || !remoteURL || !localDir || !batchArg) {
  console.error('usage: node replicate.js push|pull REMOTE_DB_URL DOCS_JSON LOCAL_DIR BATCH');
  process.exit(2);
}
const batchSize = parseInt(batchArg, 10);

async function main() {
  const local = new PouchDB(path.join(path.resolve(localDir), 'local'));
  const remote = new PouchDB(remoteURL);
  if (direction === 'push') {
    const docs = JSON.parse(fs.readFileSync(docsFile, 'utf8'));
    for (let i = 0; i < docs.length; i += 1000) {
      await local.bulkDocs(docs.slice(i, i + 1000), { new_edits: false });
    }
    const info = await local.info();
    if (info.doc_count !== docs.length) {
      throw new Error('local database holds ' + info.doc_count + ' of ' + docs.length + ' documents');
    }
  }
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  const lines = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once('line', resolve));
  const result = direction === 'push'
    ? await PouchDB.replicate(local, remote, { batch_size: batchSize })
    : await PouchDB.replicate(remote, local, { batch_size: batchSize });
  if (!result.ok) {
    throw new Error('replication failed: ' + JSON.stringify(result.errors));
  }
  process.stdout.write(JSON.stringify({ docs_written: result.docs_written, docs_read: result.docs_read }) + '\n');
  lines.close();
  await local.close();
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
