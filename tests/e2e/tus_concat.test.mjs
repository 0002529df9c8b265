// Proves tus concatenation with the real tus-js-client: `parallelUploads: 4` splits a 512 MiB
// file into four partial uploads (Upload-Concat: partial) sent at once, then creates the final
// upload (Upload-Concat: final;<the four URLs>); the final's GET and its operator manifest
// (`cat $(cat <id>.parts)`) give exactly the file's bytes, and the final was readable at once.
// Then the same with ringestd SIGKILLed mid-upload: it restarts on the same data dir and port, a
// new client instance finds the partial URLs in its URL storage (FileUrlStorage, as a Node app
// would keep them), resumes every partial from the offset the server reports (no new partial is
// created) and makes the final; the bytes are right.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tus from 'tus-js-client';
import { MiB, startServer, stopServer, killServer, writeRandomFile, tusHead } from './ringestd.mjs';

const FILE_SIZE = 512 * MiB + 3; // four parts of 128 MiB, the last 3 bytes longer
const KILL_AT = 0.5; // SIGKILL ringestd once the client reports 50 %
// Commits come at least every this many bytes of a body (the default is 64 MiB, more than half
// a part), so that the kill finds something committed in every part.
const CHECKPOINT = '16M';
const TEST_TIMEOUT_MS = 100_000;

let tmpDir = null;
let srcPath = null;
let srcSha = null;

before(async () => {
  tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ringest-e2e-concat-'));
  srcPath = path.join(tmpDir, 'source.bin');
  srcSha = await writeRandomFile(srcPath, FILE_SIZE); // made here, never committed
});

after(async () => {
  if (tmpDir) await fsp.rm(tmpDir, { recursive: true, force: true });
});

async function getSha(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  assert.equal(Number(res.headers.get('content-length')), FILE_SIZE, 'GET Content-Length');
  const hash = createHash('sha256');
  let n = 0;
  for await (const piece of res.body) {
    n += piece.length;
    hash.update(piece);
  }
  return { sha: hash.digest('hex'), bytes: n };
}

// SHA-256 of the files an operator's manifest lists, read one after the other.
async function manifestSha(dataDir, id) {
  const manifest = await fsp.readFile(path.join(dataDir, 'uploads', `${id}.parts`), 'utf8');
  const files = manifest.split('\n').filter(Boolean);
  const hash = createHash('sha256');
  for (const file of files) {
    assert.ok(path.isAbsolute(file), `manifest lists absolute paths: ${file}`);
    for await (const piece of fs.createReadStream(file)) hash.update(piece);
  }
  return { sha: hash.digest('hex'), files };
}

// Starts a parallel upload of the source and resolves with what it did; `hooks.progress` sees
// the progress, `holder.upload` is the Upload at once.
function parallelUpload(endpoint, options, holder = {}) {
  const requests = [];
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(fs.createReadStream(srcPath), {
      endpoint,
      parallelUploads: 4,
      retryDelays: null,
      metadata: { filename: 'source.bin' },
      metadataForPartialUploads: { part: 'yes' },
      onBeforeRequest(req) {
        requests.push({
          method: req.getMethod(),
          url: req.getURL(),
          concat: req.getHeader('Upload-Concat'),
          offset: req.getHeader('Upload-Offset'),
          at: performance.now(),
        });
      },
      onAfterResponse(req, res) {
        if (req.getMethod() === 'POST' && String(req.getHeader('Upload-Concat')).startsWith('final;')) {
          requests.push({ finalCreated: res.getStatus(), at: performance.now() });
        }
      },
      onSuccess: () => resolve({ upload, requests }),
      onError: (err) => reject(Object.assign(err, { requests })),
      ...options,
    });
    holder.upload = upload;
    upload.start();
  });
}

function idOf(url) {
  return new URL(url).pathname.split('/').pop();
}

test('tus-js-client parallelUploads: 4 uploads 512 MiB as partials and a final', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dataDir = path.join(tmpDir, 'data-plain');
  let child = null;
  try {
    const server = await startServer(dataDir, [], (c) => { child = c; });
    const started = performance.now();
    const { upload, requests } = await parallelUpload(`${server.baseUrl}/files/`, {});
    const seconds = (performance.now() - started) / 1000;

    const partialPosts = requests.filter((r) => r.method === 'POST' && r.concat === 'partial');
    assert.equal(partialPosts.length, 4, 'four partial uploads created');
    const finalPost = requests.find((r) => r.method === 'POST' && String(r.concat).startsWith('final;'));
    assert.ok(finalPost, 'the final upload was created');
    const partUrls = finalPost.concat.slice('final;'.length).split(' ');
    assert.equal(partUrls.length, 4);
    const created = requests.find((r) => r.finalCreated !== undefined);
    assert.equal(created.finalCreated, 201);
    const finalMs = created.at - finalPost.at;

    // The final: complete at once, its parts echoed, the partials' metadata not copied.
    const res = await fetch(upload.url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers.get('upload-length')), FILE_SIZE);
    assert.equal(Number(res.headers.get('upload-offset')), FILE_SIZE);
    assert.equal(res.headers.get('upload-concat'),
                 'final;' + partUrls.map((u) => new URL(u).pathname).join(' '));
    assert.equal(res.headers.get('upload-metadata'), `filename ${Buffer.from('source.bin').toString('base64')}`);
    for (const u of partUrls) {
      const h = await fetch(u, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
      assert.equal(h.headers.get('upload-concat'), 'partial');
      assert.equal(h.headers.get('upload-metadata'), `part ${Buffer.from('yes').toString('base64')}`);
    }

    const got = await getSha(upload.url);
    assert.equal(got.bytes, FILE_SIZE);
    assert.equal(got.sha, srcSha, 'GET of the final: SHA-256 of the source');
    const id = idOf(upload.url);
    assert.equal(fs.existsSync(path.join(dataDir, 'uploads', `${id}.bin`)), false, 'no data file of its own');
    const viaManifest = await manifestSha(dataDir, id);
    assert.equal(viaManifest.files.length, 4);
    assert.equal(viaManifest.sha, srcSha, 'cat $(cat <id>.parts): SHA-256 of the source');
    t.diagnostic(`512 MiB in ${seconds.toFixed(1)} s with 4 partial uploads; final created in ${finalMs.toFixed(1)} ms`);
  } finally {
    await stopServer(child);
  }
});

test('ringestd SIGKILLed mid-upload: the client resumes its partials and makes the final', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dataDir = path.join(tmpDir, 'data-kill');
  const storage = new tus.FileUrlStorage(path.join(tmpDir, 'tus-urls.json'));
  let child = null;
  try {
    let server = await startServer(dataDir, ['--checkpoint-bytes', CHECKPOINT], (c) => { child = c; });
    const port = new URL(server.baseUrl).port;
    const endpoint = `${server.baseUrl}/files/`;

    // 1. Upload until 50 %, then SIGKILL the server under the client.
    const holder = {};
    let killed = null;
    const first = parallelUpload(endpoint, {
      urlStorage: storage,
      onProgress(sent, total) {
        if (killed === null && sent >= total * KILL_AT) {
          killed = sent;
          killServer(child);
        }
      },
    }, holder);
    const failure = await first.then(() => null, (err) => err);
    assert.ok(failure, 'the first run fails when the server dies');
    await holder.upload.abort(false); // stop whatever part is still trying
    assert.ok(!failure.requests.some((r) => r.method === 'POST' && String(r.concat).startsWith('final;')),
              'no final before the parts were done');

    // 2. The same data dir and port.
    server = await startServer(dataDir, ['--checkpoint-bytes', CHECKPOINT, '--listen', `127.0.0.1:${port}`],
                               (c) => { child = c; });
    assert.equal(server.baseUrl, endpoint.replace(/\/files\/$/, ''));
    const stored = await storage.findAllUploads();
    assert.equal(stored.length, 1, 'the client stored its upload');
    const partUrls = stored[0].parallelUploadUrls;
    assert.equal(partUrls.length, 4, 'with the four partial URLs');
    const offsets = [];
    for (const u of partUrls) {
      const h = await tusHead(u);
      assert.equal(h.status, 200, `HEAD ${u} after the restart`);
      offsets.push(Number(h.offset));
    }
    t.diagnostic(`killed at client progress ${killed}; server offsets after restart: ${offsets.join(', ')}`);

    // 3. A new client instance resumes from its URL storage.
    const result = await new Promise((resolve, reject) => {
      const requests = [];
      const upload = new tus.Upload(fs.createReadStream(srcPath), {
        endpoint,
        parallelUploads: 4,
        retryDelays: null,
        urlStorage: storage,
        metadata: { filename: 'source.bin' },
        onBeforeRequest(req) {
          requests.push({ method: req.getMethod(), url: req.getURL(), concat: req.getHeader('Upload-Concat'),
                          offset: req.getHeader('Upload-Offset') });
        },
        onSuccess: () => resolve({ upload, requests }),
        onError: reject,
      });
      upload.findPreviousUploads().then((previous) => {
        assert.equal(previous.length, 1);
        upload.resumeFromPreviousUpload(previous[0]);
        upload.start();
      }, reject);
    });
    const { upload, requests } = result;
    assert.ok(!requests.some((r) => r.method === 'POST' && r.concat === 'partial'),
              'no partial upload was created again');
    const heads = requests.filter((r) => r.method === 'HEAD');
    assert.equal(heads.length, 4, 'each partial resumed with a HEAD');
    for (const r of requests.filter((q) => q.method === 'PATCH')) {
      const index = partUrls.indexOf(r.url);
      assert.ok(index >= 0, `PATCH to a stored partial URL: ${r.url}`);
      assert.equal(Number(r.offset), offsets[index], 'each partial resumed at the offset the server reported');
    }
    assert.ok(offsets.some((o) => o > 0), 'bytes committed before the SIGKILL were not sent again');
    const finalPost = requests.find((r) => r.method === 'POST' && String(r.concat).startsWith('final;'));
    assert.deepEqual(finalPost.concat.slice('final;'.length).split(' '), partUrls);

    const got = await getSha(upload.url);
    assert.equal(got.sha, srcSha, 'GET of the final after the restart: SHA-256 of the source');
    const viaManifest = await manifestSha(dataDir, idOf(upload.url));
    assert.equal(viaManifest.sha, srcSha);
  } finally {
    await stopServer(child);
  }
});
