// Proves that the real tus-js-client can upload a ~48 MiB file to ringestd, abort it halfway, resume it from the server's offset with a new Upload instance (without re-sending from 0), and that the bytes served by GET (whole, named by the metadata it sent, and as a ranged resume) and stored on disk are identical to the source.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tus from 'tus-js-client';
import { MiB, startServer, stopServer, writeRandomFile, sha256OfFile, tusHead } from './ringestd.mjs';

const FILE_SIZE = 48 * MiB + 12345; // deliberately not a multiple of the chunk size
const CHUNK_SIZE = 4 * MiB; // -> 13 PATCH requests for a full upload
const ABORT_AT = 0.5; // abort once onProgress reports >= 50 %
const TEST_TIMEOUT_MS = 120_000;

let server = null; // { child, baseUrl, stderr: () => string }
let serverChild = null; // set right after spawn, so after() can stop it even if startup failed
let tmpDir = null;
let dataDir = null;

const head = tusHead;

// After abort() the server may still be consuming the cut-off PATCH; wait until
// the offset it reports is stable across two HEADs 200 ms apart (bounded).
async function settledOffset(url) {
  let prev = null;
  for (let i = 0; i < 50; i++) {
    const h = await head(url);
    assert.equal(h.status, 200, `HEAD ${url} after abort`);
    if (prev !== null && h.offset === prev) return Number(h.offset);
    prev = h.offset;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Upload-Offset of ${url} did not settle after abort (last ${prev})`);
}

before(async () => {
  tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ringest-e2e-'));
  dataDir = path.join(tmpDir, 'data');
  await fsp.mkdir(dataDir);
  server = await startServer(dataDir, [], (child) => { serverChild = child; });
});

after(async () => {
  try {
    if (serverChild) await stopServer(serverChild);
  } finally {
    if (tmpDir) await fsp.rm(tmpDir, { recursive: true, force: true });
  }
});

test('tus-js-client: upload, abort at ~50 %, resume with uploadUrl, verify bytes', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const endpoint = `${server.baseUrl}/files/`;
  const srcPath = path.join(tmpDir, 'source.bin');
  const srcSha = await writeRandomFile(srcPath, FILE_SIZE);
  const source = await fsp.readFile(srcPath);
  assert.equal(source.length, FILE_SIZE);

  // --- 1. first instance: create + PATCH until >= 50 %, then abort ---------
  let postLocation = null;
  let patchCount1 = 0;
  let abortedAt = null;
  const first = await new Promise((resolve, reject) => {
    const upload = new tus.Upload(source, {
      endpoint,
      chunkSize: CHUNK_SIZE,
      retryDelays: null,
      metadata: { filename: 'source.bin', filetype: 'application/octet-stream' },
      onBeforeRequest(req) {
        if (req.getMethod() === 'PATCH') patchCount1++;
      },
      onAfterResponse(req, res) {
        if (req.getMethod() === 'POST') postLocation = res.getHeader('Location');
      },
      onProgress(bytesUploaded, bytesTotal) {
        if (abortedAt === null && bytesUploaded >= bytesTotal * ABORT_AT) {
          abortedAt = bytesUploaded;
          // abort() resolves once the running request has been torn down
          // (no termination: shouldTerminate is false).
          upload.abort(false).then(() => resolve(upload), reject);
        }
      },
      onSuccess() {
        reject(new Error('first upload completed although it should have been aborted at ~50 %'));
      },
      onError: reject,
    });
    upload.start();
  });

  assert.match(String(postLocation), /^\/files\/[0-9a-f]{32}$/, 'POST must answer with a relative Location: /files/<32 hex>');
  const uploadUrl = first.url;
  assert.equal(uploadUrl, `${server.baseUrl}${postLocation}`, 'tus-js-client resolves the relative Location against the endpoint');
  const id = postLocation.slice('/files/'.length);
  assert.ok(patchCount1 >= 2, `expected several PATCH requests before the abort, saw ${patchCount1}`);

  // --- 2. the server kept a partial upload ---------------------------------
  const offsetAfterAbort = await settledOffset(uploadUrl);
  const h = await head(uploadUrl);
  assert.equal(h.status, 200);
  assert.equal(Number(h.length), FILE_SIZE, 'HEAD Upload-Length');
  assert.ok(offsetAfterAbort > 0 && offsetAfterAbort < FILE_SIZE, `0 < Upload-Offset (${offsetAfterAbort}) < ${FILE_SIZE}`);
  t.diagnostic(
    `aborted at client progress ${abortedAt} (${abortedAt % CHUNK_SIZE === 0 ? 'chunk boundary' : 'mid-PATCH'}), ` +
      `server offset after abort ${offsetAfterAbort}, PATCHes sent ${patchCount1}`,
  );

  // --- 3. a NEW instance resumes from the server's offset ------------------
  const requests2 = [];
  let firstProgress2 = null;
  let urlAvailable2 = false;
  const second = await new Promise((resolve, reject) => {
    const upload = new tus.Upload(source, {
      uploadUrl, // no endpoint: must resume, must not silently create a new upload
      chunkSize: CHUNK_SIZE,
      retryDelays: null,
      onBeforeRequest(req) {
        requests2.push({ method: req.getMethod(), url: req.getURL(), offset: req.getHeader('Upload-Offset') });
      },
      onUploadUrlAvailable() {
        urlAvailable2 = true;
      },
      onProgress(bytesUploaded) {
        if (firstProgress2 === null) firstProgress2 = bytesUploaded;
      },
      onSuccess: () => resolve(upload),
      onError: reject,
    });
    upload.start();
  });

  assert.equal(second.url, uploadUrl, 'resumed upload keeps the same URL');
  assert.ok(urlAvailable2, 'onUploadUrlAvailable fired for the resumed upload');
  assert.equal(requests2[0]?.method, 'HEAD', 'resume starts with HEAD on the upload URL');
  assert.ok(!requests2.some((r) => r.method === 'POST'), 'resume must not create a new upload');
  const patches2 = requests2.filter((r) => r.method === 'PATCH');
  assert.ok(patches2.length >= 1, 'resume sent PATCH requests');
  assert.ok(patches2.every((r) => r.url === uploadUrl), 'all PATCHes go to the original upload URL');
  assert.equal(Number(patches2[0].offset), offsetAfterAbort, 'first resumed PATCH starts at the offset the server reported');
  assert.ok(firstProgress2 > 0, `resumed upload started at a non-zero offset (first progress ${firstProgress2})`);
  assert.equal(firstProgress2, offsetAfterAbort, 'first progress of the resumed upload equals the server offset');
  const expectedPatches = Math.ceil((FILE_SIZE - offsetAfterAbort) / CHUNK_SIZE);
  assert.equal(patches2.length, expectedPatches, 'resumed upload only sent the remaining chunks');

  const done = await head(uploadUrl);
  assert.equal(done.status, 200);
  assert.equal(Number(done.offset), FILE_SIZE, 'Upload-Offset after completion');
  assert.equal(Number(done.length), FILE_SIZE, 'Upload-Length after completion');

  // --- 4. GET returns exactly the source bytes -----------------------------
  const res = await fetch(uploadUrl);
  assert.equal(res.status, 200, 'GET of a completed upload');
  // ringestd frames every GET with Content-Length; a missing one must fail, not skip the check.
  const cl = res.headers.get('content-length');
  assert.notEqual(cl, null, 'GET Content-Length present');
  assert.equal(Number(cl), FILE_SIZE, 'GET Content-Length');
  const getHash = createHash('sha256');
  let getLen = 0;
  for await (const piece of res.body) {
    getLen += piece.length;
    getHash.update(piece);
  }
  assert.equal(getLen, FILE_SIZE, 'GET body length');
  assert.equal(getHash.digest('hex'), srcSha, 'GET body SHA-256');
  // The metadata tus-js-client sent names the download (issue #11).
  assert.equal(res.headers.get('content-disposition'), 'attachment; filename="source.bin"', 'GET Content-Disposition from metadata.filename');
  assert.equal(res.headers.get('content-type'), 'application/octet-stream', 'GET Content-Type from metadata.filetype');

  // --- 4b. a ranged GET, as a download resumes, gives exactly the tail ---------
  const etag = res.headers.get('etag');
  assert.notEqual(etag, null, 'GET ETag present');
  const from = FILE_SIZE - 5 * MiB - 7;
  const ranged = await fetch(uploadUrl, { headers: { Range: `bytes=${from}-`, 'If-Range': etag } });
  assert.equal(ranged.status, 206, 'ranged GET with a matching If-Range');
  assert.equal(ranged.headers.get('content-range'), `bytes ${from}-${FILE_SIZE - 1}/${FILE_SIZE}`, 'Content-Range');
  const tail = Buffer.from(await ranged.arrayBuffer());
  assert.ok(tail.equals(source.subarray(from)), 'ranged GET bytes equal the source tail');

  // --- 5. the stored data file is identical too ----------------------------
  const stored = path.join(dataDir, 'uploads', `${id}.bin`);
  assert.equal((await fsp.stat(stored)).size, FILE_SIZE, `size of ${stored}`);
  assert.equal(await sha256OfFile(stored), srcSha, `SHA-256 of ${stored}`);
});
