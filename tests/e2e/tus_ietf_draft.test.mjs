// Proves that clients of IETF Resumable Uploads for HTTP work against ringestd unmodified:
// tus-js-client 4.x with `protocol: 'ietf-draft-05'` (interop version 6, as Apple's URLSession
// on iOS 18.1+ speaks it) uploads a multi-MiB file, is aborted mid-way, resumes on the same
// upload URL from the server's offset (a new Upload instance given `uploadUrl`) and finishes with
// byte-exact content; and a client of interop version 8 written on Node's own http module sees
// the 104 Upload Resumption Supported (its 'information' event) with the upload's Location
// before the final 201, as curl does on the command line.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tus from 'tus-js-client';
import { MiB, startServer, stopServer, writeRandomFile, sha256OfFile } from './ringestd.mjs';

const FILE_SIZE = 24 * MiB + 4321;
const CHUNK_SIZE = 2 * MiB;
const TEST_TIMEOUT_MS = 120_000;

let server = null;
let serverChild = null;
let tmpDir = null;
let dataDir = null;

// An IETF offset retrieval (interop version 6, as tus-js-client sends it).
async function ietfHead(url) {
  const res = await fetch(url, { method: 'HEAD', headers: { 'Upload-Draft-Interop-Version': '6' } });
  return {
    status: res.status,
    offset: res.headers.get('upload-offset'),
    complete: res.headers.get('upload-complete'),
    length: res.headers.get('upload-length'),
  };
}

// After abort() the server may still be committing the cut-off PATCH: wait (bounded) until two
// HEADs 200 ms apart agree.
async function settledOffset(url) {
  let prev = null;
  for (let i = 0; i < 50; i++) {
    const h = await ietfHead(url);
    assert.equal(h.status, 200, `HEAD ${url} after abort`);
    if (prev !== null && h.offset === prev) return Number(h.offset);
    prev = h.offset;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Upload-Offset of ${url} did not settle after abort (last ${prev})`);
}

async function sha256OfUrl(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  const hash = createHash('sha256');
  let n = 0;
  for await (const piece of res.body) {
    n += piece.length;
    hash.update(piece);
  }
  return { hash: hash.digest('hex'), length: n };
}

before(async () => {
  tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ringest-e2e-ietf-'));
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

test("tus-js-client protocol 'ietf-draft-05': upload, abort mid-way, resume on the same URL, exact bytes", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const endpoint = `${server.baseUrl}/files/`;
  const srcPath = path.join(tmpDir, 'source.bin');
  const srcSha = await writeRandomFile(srcPath, FILE_SIZE);
  const source = await fsp.readFile(srcPath);

  // --- 1. create, PATCH until ~50 %, abort ----------------------------------
  const sent1 = [];
  let abortedAt = null;
  const first = await new Promise((resolve, reject) => {
    const upload = new tus.Upload(source, {
      endpoint,
      protocol: 'ietf-draft-05',
      chunkSize: CHUNK_SIZE,
      retryDelays: null,
      onBeforeRequest(req) {
        sent1.push({
          method: req.getMethod(),
          version: req.getHeader('Upload-Draft-Interop-Version'),
          tus: req.getHeader('Tus-Resumable'),
          complete: req.getHeader('Upload-Complete'),
          type: req.getHeader('Content-Type'),
        });
      },
      onProgress(bytesUploaded, bytesTotal) {
        if (abortedAt === null && bytesUploaded >= bytesTotal / 2) {
          abortedAt = bytesUploaded;
          upload.abort(false).then(() => resolve(upload), reject);
        }
      },
      onSuccess() {
        reject(new Error('the first upload completed although it was aborted at ~50 %'));
      },
      onError: reject,
    });
    upload.start();
  });
  // It really spoke the draft, not tus.
  assert.equal(sent1[0].method, 'POST');
  assert.equal(sent1[0].version, '6');
  assert.equal(sent1[0].complete, '?0');
  assert.equal(sent1[0].tus, undefined);
  const patch = sent1.find((r) => r.method === 'PATCH');
  assert.equal(patch.type, 'application/partial-upload');
  assert.equal(patch.complete, '?0');
  const uploadUrl = first.url;
  assert.match(uploadUrl, /\/files\/[0-9a-f]{32}$/);

  const offsetAfterAbort = await settledOffset(uploadUrl);
  const h = await ietfHead(uploadUrl);
  assert.equal(h.complete, '?0', 'not complete after the abort');
  assert.equal(Number(h.length), FILE_SIZE);
  assert.ok(offsetAfterAbort > 0 && offsetAfterAbort < FILE_SIZE, `0 < offset ${offsetAfterAbort} < ${FILE_SIZE}`);
  t.diagnostic(`aborted at client progress ${abortedAt}, server offset ${offsetAfterAbort}`);

  // --- 2. a new instance resumes on the same URL ------------------------------
  const sent2 = [];
  const second = await new Promise((resolve, reject) => {
    const upload = new tus.Upload(source, {
      uploadUrl,
      protocol: 'ietf-draft-05',
      chunkSize: CHUNK_SIZE,
      retryDelays: null,
      onBeforeRequest(req) {
        sent2.push({ method: req.getMethod(), url: req.getURL(), offset: req.getHeader('Upload-Offset'), complete: req.getHeader('Upload-Complete') });
      },
      onSuccess: () => resolve(upload),
      onError: reject,
    });
    upload.start();
  });
  assert.equal(second.url, uploadUrl);
  assert.equal(sent2[0].method, 'HEAD', 'resume starts with offset retrieval');
  assert.ok(!sent2.some((r) => r.method === 'POST'), 'no new upload');
  const patches = sent2.filter((r) => r.method === 'PATCH');
  assert.equal(Number(patches[0].offset), offsetAfterAbort, 'resumes at the server offset');
  assert.ok(patches.every((r) => r.url === uploadUrl));
  assert.equal(patches[patches.length - 1].complete, '?1', 'the last append completes the upload');

  const done = await ietfHead(uploadUrl);
  assert.equal(done.complete, '?1');
  assert.equal(Number(done.offset), FILE_SIZE);
  const got = await sha256OfUrl(uploadUrl);
  assert.equal(got.length, FILE_SIZE);
  assert.equal(got.hash, srcSha, 'GET bytes');
  const id = uploadUrl.slice(uploadUrl.lastIndexOf('/') + 1);
  assert.equal(await sha256OfFile(path.join(dataDir, 'uploads', `${id}.bin`)), srcSha, 'stored bytes');
});

test('interop version 8 with Node http: the 104 arrives before the 201, with the same Location', { timeout: TEST_TIMEOUT_MS }, async () => {
  const body = Buffer.alloc(3 * MiB + 17, 7);
  for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
  const url = new URL(`${server.baseUrl}/files/`);
  const informational = [];
  const final = await new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: {
        'Upload-Draft-Interop-Version': '8',
        'Upload-Complete': '?1',
        'Content-Length': body.length,
        'Content-Type': 'application/octet-stream',
      },
    });
    req.on('information', (info) => informational.push({ status: info.statusCode, headers: info.headers }));
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(informational.length, 1, 'one interim response');
  assert.equal(informational[0].status, 104);
  assert.equal(informational[0].headers['upload-draft-interop-version'], '8');
  assert.match(informational[0].headers['upload-limit'], /^max-size=\d+$/);
  assert.equal(final.statusCode, 201);
  assert.equal(final.headers.location, informational[0].headers.location, 'the same Location');
  assert.equal(final.headers['upload-complete'], '?1');
  assert.equal(Number(final.headers['upload-offset']), body.length);
  const got = await sha256OfUrl(`${server.baseUrl}${final.headers.location}`);
  assert.equal(got.hash, createHash('sha256').update(body).digest('hex'));
});

test('curl reads the final response after a 104', { timeout: TEST_TIMEOUT_MS }, async () => {
  // tools/setup.sh installs curl: a missing one is a failure here, not a skip.
  const curl = await new Promise((resolve) => {
    execFile('curl', ['--version'], (err) => resolve(!err));
  });
  assert.ok(curl, 'curl is not installed (tools/setup.sh installs it)');
  const out = await new Promise((resolve, reject) => {
    execFile('curl', ['-s', '-i', '--noproxy', '*', '-X', 'POST',
                      '-H', 'Upload-Draft-Interop-Version: 8', '-H', 'Upload-Complete: ?1',
                      '--data-binary', 'hello curl', `${server.baseUrl}/files/`],
             (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  const statuses = [...out.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [104, 201], out);
  const loc = /^Location: (\S+)/m.exec(out.split('HTTP/1.1 201')[1])[1];
  const res = await fetch(`${server.baseUrl}${loc}`);
  assert.equal(await res.text(), 'hello curl');
});
