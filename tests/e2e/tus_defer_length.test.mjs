// Proves tus creation-defer-length with the real tus-js-client: a stream of unknown length is
// uploaded with uploadLengthDeferred, the client creates the upload with Upload-Defer-Length: 1,
// HEAD says the length is deferred while the stream runs, the client declares the length once
// the stream ends, and the stored bytes and the final Upload-Length are exactly the source's.
// Then the same through a server restart in the middle: a new client instance resumes the
// deferred upload from the offset the restarted server reports.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import * as tus from 'tus-js-client';
import { MiB, startServer, stopServer, writeRandomFile, sha256OfFile, tusHead } from './ringestd.mjs';

let tmpDir = null;
let dataDir = null;
let server = null;
let child = null;

before(async () => {
  tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ringest-e2e-defer-'));
  dataDir = path.join(tmpDir, 'data');
  server = await startServer(dataDir, [], (c) => { child = c; });
});

after(async () => {
  try {
    await stopServer(child);
  } finally {
    if (tmpDir) await fsp.rm(tmpDir, { recursive: true, force: true });
  }
});

const head = tusHead;

async function getSha(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  const hash = createHash('sha256');
  let n = 0;
  for await (const piece of res.body) {
    n += piece.length;
    hash.update(piece);
  }
  return { sha: hash.digest('hex'), bytes: n };
}

// Uploads `source` with uploadLengthDeferred and resolves with the upload and what it sent;
// `holder.upload` is set at once, for callbacks that run before the promise resolves.
function uploadDeferred(source, options, holder = {}) {
  const sent = [];
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(source, {
      uploadLengthDeferred: true,
      chunkSize: MiB,
      retryDelays: null,
      onBeforeRequest(req) {
        sent.push({
          method: req.getMethod(),
          length: req.getHeader('Upload-Length'),
          deferred: req.getHeader('Upload-Defer-Length'),
        });
      },
      onSuccess: () => resolve({ upload, sent }),
      onError: reject,
      ...options,
    });
    holder.upload = upload;
    upload.start();
  });
}

test('tus-js-client uploadLengthDeferred: a stream of unknown length', { timeout: 120_000 }, async () => {
  const size = 7 * MiB + 4321;
  const src = path.join(tmpDir, 'stream.bin');
  const sha = await writeRandomFile(src, size);
  let midway = null;
  const holder = {};
  // A plain stream (through a PassThrough: for an fs.ReadStream tus-js-client would read the
  // file by its path instead, whose size it can know).
  const stream = fs.createReadStream(src, { highWaterMark: 256 * 1024 }).pipe(new PassThrough());
  const { upload, sent } = await uploadDeferred(stream, {
    endpoint: `${server.baseUrl}/files/`,
    onChunkComplete(_chunk, uploaded) {
      if (midway === null && uploaded >= 3 * MiB) {
        midway = head(holder.upload.url);  // while the stream still runs
      }
    },
  }, holder);
  midway = await midway;
  assert.equal(sent[0].method, 'POST');
  assert.equal(sent[0].deferred, '1', 'created with Upload-Defer-Length: 1');
  assert.ok(sent.some((r) => r.method === 'PATCH' && Number(r.length) === size),
            'a PATCH declared the length once the stream ended');
  assert.ok(midway !== null, 'HEAD was asked while the stream ran');
  assert.equal(midway.deferred, '1', 'HEAD says the length is deferred while unknown');
  assert.equal(midway.length, null, 'and carries no Upload-Length');
  const done = await head(upload.url);
  assert.equal(Number(done.length), size);
  assert.equal(Number(done.offset), size);
  assert.equal(done.deferred, null);
  const got = await getSha(upload.url);
  assert.equal(got.bytes, size);
  assert.equal(got.sha, sha);
  const id = new URL(upload.url).pathname.split('/').pop();
  assert.equal(await sha256OfFile(path.join(dataDir, 'uploads', `${id}.bin`)), sha);
});

test('a deferred upload resumes across a server restart', { timeout: 120_000 }, async () => {
  const size = 5 * MiB + 17;
  const src = path.join(tmpDir, 'resume.bin');
  const sha = await writeRandomFile(src, size);
  const source = await fsp.readFile(src);
  // First part: a stream that has given 2 MiB and not ended (the client cannot know its length).
  let firstUrl = null;
  await new Promise((resolve, reject) => {
    const partial = new Readable({ read() {} });
    partial.push(source.subarray(0, 2 * MiB));
    const upload = new tus.Upload(partial, {
      endpoint: `${server.baseUrl}/files/`,
      uploadLengthDeferred: true,
      chunkSize: MiB,
      retryDelays: null,
      onChunkComplete(_chunk, uploaded) {
        if (uploaded >= 2 * MiB && firstUrl === null) {
          firstUrl = upload.url;
          upload.abort(false).then(resolve, reject);
        }
      },
      onSuccess: () => reject(new Error('must not finish: the length was never declared')),
      onError: reject,
    });
    upload.start();
  });
  assert.ok(firstUrl);
  await stopServer(child);
  server = await startServer(dataDir, [], (c) => { child = c; });
  const url = `${server.baseUrl}${new URL(firstUrl).pathname}`;
  const h = await head(url);
  assert.equal(h.status, 200);
  assert.equal(h.deferred, '1', 'still deferred after the restart');
  const offset = Number(h.offset);
  assert.equal(offset, 2 * MiB);
  // A new instance resumes from the server's offset and declares the length at the end. (Its
  // source is the whole file in memory: tus-js-client cannot skip ahead in a stream.)
  const { sent } = await uploadDeferred(source, { uploadUrl: url });
  assert.equal(sent[0].method, 'HEAD', 'resume starts with HEAD');
  assert.ok(!sent.some((r) => r.method === 'POST'), 'resume must not create a new upload');
  const done = await head(url);
  assert.equal(Number(done.length), size);
  assert.equal(Number(done.offset), size);
  const got = await getSha(url);
  assert.equal(got.sha, sha);
});
