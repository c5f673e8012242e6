// Uploads one file with tus-js-client, unchanged, as a standard tus client
// would. Usage: node tusjs_upload.js ENDPOINT TOKEN FILE SHA256 RECORD_ID AREA [CHUNK_SIZE]
// Prints {"url": ..., "bytes": ...} on success; exits 1 with the error.
'use strict'
const fs = require('fs')
const tus = require('tus-js-client')

const [endpoint, token, file, sha256, recordId, area, chunkSize] = process.argv.slice(2)
const data = fs.readFileSync(file)
const upload = new tus.Upload(data, {
  endpoint,
  headers: { Authorization: 'Bearer ' + token },
  metadata: { sha256, kind: 'photo', collection: 'visits', record_id: recordId, area, filename: 'photo.jpg', filetype: 'image/jpeg' },
  chunkSize: chunkSize ? Number(chunkSize) : Infinity,
  retryDelays: Array(40).fill(100),
  onError (err) {
    console.error('tus-js-client: ' + err.message)
    process.exit(1)
  },
  onSuccess () {
    console.log(JSON.stringify({ url: upload.url, bytes: data.length }))
    process.exit(0)
  }
})
upload.start()
