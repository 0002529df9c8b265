// Proves that the real tus-js-client works against ringestd's access control: it uploads with a
// bearer token passed in `headers`, is refused (401) without one, and, given only a signed
// creation URL as its endpoint, creates the upload and finishes it through the signed Location
// the server returns (tus-js-client reuses Location verbatim). Signatures are computed here with
// node:crypto from the documented format, independently of the server's code.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tus from 'tus-js-client';
import { startServer, stopServer } from './ringestd.mjs';

const TOKEN = 'e2e-token.' + randomBytes(8).toString('hex');
const KEY = randomBytes(32).toString('hex');
const SIZE = 3 * 1024 * 1024 + 777;
const CHUNK = 1024 * 1024;

let child = null;
let baseUrl = null;
let tmpDir = null;

// Starts ringestd with tokens and a signing key on an ephemeral loopback port.
async function start() {
  tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ringest-e2e-access-'));
  await fsp.writeFile(path.join(tmpDir, 'tokens'), `# e2e\n${TOKEN}\n`);
  await fsp.writeFile(path.join(tmpDir, 'key'), `${KEY}\n`);
  const server = await startServer(
    path.join(tmpDir, 'data'),
    ['--auth-token-file', path.join(tmpDir, 'tokens'), '--signing-key-file', path.join(tmpDir, 'key')],
    (spawned) => { child = spawned; },
  );
  baseUrl = server.baseUrl;
}

function sign(method, urlPath, expires) {
  const mac = createHmac('sha256', KEY).update(`${method}\n${urlPath}\n${expires}`).digest();
  return `${urlPath}?expires=${expires}&signature=${mac.toString('base64url')}`;
}

function upload(data, options) {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(data, {
      chunkSize: CHUNK,
      retryDelays: null,
      ...options,
      onSuccess: () => resolve(u),
      onError: reject,
    });
    u.start();
  });
}

async function getSha(url, headers = {}) {
  const res = await fetch(url, { headers });
  assert.equal(res.status, 200, `GET ${url}`);
  return createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex');
}

before(start);

after(async () => {
  try {
    await stopServer(child);
  } finally {
    if (tmpDir) await fsp.rm(tmpDir, { recursive: true, force: true });
  }
});

test('tus-js-client with a bearer token in headers', { timeout: 60_000 }, async () => {
  const data = randomBytes(SIZE);
  const u = await upload(data, {
    endpoint: `${baseUrl}/files/`,
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  assert.match(u.url, /\/files\/[0-9a-f]{32}$/);
  const want = createHash('sha256').update(data).digest('hex');
  assert.equal(await getSha(u.url, { Authorization: `Bearer ${TOKEN}` }), want);
  assert.equal((await fetch(u.url)).status, 401, 'GET without the token');
});

test('tus-js-client without a token is refused with 401', { timeout: 30_000 }, async () => {
  await assert.rejects(upload(randomBytes(1000), { endpoint: `${baseUrl}/files/` }), (err) => {
    assert.equal(err.originalResponse?.getStatus(), 401);
    return true;
  });
  await assert.rejects(
    upload(randomBytes(1000), { endpoint: `${baseUrl}/files/`, headers: { Authorization: 'Bearer nope' } }),
    (err) => {
      assert.equal(err.originalResponse?.getStatus(), 403);
      return true;
    },
  );
});

test('tus-js-client given only a signed creation URL', { timeout: 60_000 }, async () => {
  const expires = Math.floor(Date.now() / 1000) + 300;
  const data = randomBytes(SIZE);
  const methods = [];
  const u = await upload(data, {
    endpoint: `${baseUrl}${sign('POST', '/files/', expires)}`,
    onBeforeRequest(req) {
      methods.push(req.getMethod());
    },
  });
  const url = new URL(u.url);
  assert.match(url.pathname, /^\/files\/[0-9a-f]{32}$/);
  assert.equal(`${url.pathname}${url.search}`, sign('*', url.pathname, expires),
               'Location is signed for the upload with the creation URL\'s expiry');
  assert.deepEqual(methods.slice(0, 2), ['POST', 'PATCH']);
  assert.equal(methods.filter((m) => m === 'PATCH').length, Math.ceil(SIZE / CHUNK));
  const want = createHash('sha256').update(data).digest('hex');
  assert.equal(await getSha(u.url), want, 'GET through the signed Location');
  assert.equal((await fetch(`${baseUrl}${url.pathname}`)).status, 401, 'the bare path needs credentials');

  // Resuming through the stored signed URL (a new instance with uploadUrl) works too.
  const resumed = await upload(data, { uploadUrl: u.url });
  assert.equal(resumed.url, u.url);
});
