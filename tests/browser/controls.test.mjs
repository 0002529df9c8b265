// Proves, in Debian's chromium against the real ringestd, the page's controls: Pause stops an
// Uppy/tus upload (the server's offset stays put) and Resume continues it from the server's
// offset to the right bytes; Cancel terminates the upload on the server (HEAD -> 404); a file
// over --max-upload-bytes is refused by the server and the page says so, in both widgets.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import {
  chooseFile, finishedEntry, headStatus, launchBrowser, MiB, openPage, pageReady, SHORT_MS,
  startServer, stopServer, storedSha256, tempDir, throttleUpload, transferRow, waitForProgress,
  waitForState, writeRandomFile, writeSparseFile,
} from './support.mjs';

let browser;
let dir;
let server;
let page;
const created = new Map(); // file name -> upload id, from the POSTs' Location

before(async () => {
  dir = await tempDir('ringest-browser-controls-');
  browser = await launchBrowser();
  server = await startServer(path.join(dir, 'data'), ['--max-upload-bytes', '48M'], (child) => { server = { child }; });
  page = await openPage(browser, `${server.baseUrl}/`);
  page.on('response', async (res) => {
    if (res.request().method() !== 'POST' || !res.url().endsWith('/files/')) return;
    const location = res.headers().location;
    const meta = res.request().headers()['upload-metadata'] || '';
    const name = /(?:^|,)filename ([^,]+)/.exec(meta);
    if (location && name) created.set(Buffer.from(name[1], 'base64').toString(), location.split('/').pop());
  });
  assert.equal(await pageReady(page), 'yes');
});

after(async () => {
  await browser?.close();
  await stopServer(server?.child);
});

async function tusOffset(id) {
  const res = await fetch(`${server.baseUrl}/files/${id}`, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
  return Number(res.headers.get('upload-offset'));
}

async function waitForCreated(name) {
  for (const start = Date.now(); Date.now() - start < SHORT_MS; await delay(100)) {
    if (created.has(name)) return created.get(name);
  }
  throw new Error(`no upload was created for ${name}`);
}

test('Pause stops the upload and Resume continues it from the server offset', { timeout: 120_000 }, async () => {
  const file = path.join(dir, 'pause-me.bin');
  const sha = await writeRandomFile(file, 32 * MiB);
  await throttleUpload(page, 4 * MiB);
  await chooseFile(page, file);
  await waitForProgress(page, 'pause-me.bin', 8 * MiB);
  const id = await waitForCreated('pause-me.bin');
  await transferRow(page, 'pause-me.bin').locator('button[data-action=pause]').click();
  await waitForState(page, 'pause-me.bin', 'paused', SHORT_MS);

  // The aborted request's bytes are committed once the server sees it end: wait until the
  // offset settles (bounded by the test's timeout), then check that it stays put.
  let paused = -1;
  for (let now = await tusOffset(id); now !== paused; now = await tusOffset(id)) {
    paused = now;
    await delay(500);
  }
  await delay(1000);
  assert.equal(await tusOffset(id), paused, 'no bytes arrive while paused');
  assert.ok(paused > 0);

  const offsets = [];
  const onRequest = (req) => {
    if (req.method() === 'PATCH' && req.url().endsWith(id)) offsets.push(Number(req.headers()['upload-offset']));
  };
  page.on('request', onRequest);
  await throttleUpload(page, null);
  await transferRow(page, 'pause-me.bin').locator('button[data-action=resume]').click();
  await waitForState(page, 'pause-me.bin', 'done');
  page.off('request', onRequest);
  assert.equal(offsets[0], paused, 'resumed at the offset the server held');
  const entry = await finishedEntry(page, 'pause-me.bin');
  assert.equal(entry.id, id);
  assert.equal(await storedSha256(server.baseUrl, id), sha);
  assert.equal(entry.sha256, sha);
});

test('Cancel terminates the upload on the server', { timeout: 120_000 }, async () => {
  const file = path.join(dir, 'cancel-me.bin');
  await writeRandomFile(file, 32 * MiB);
  await throttleUpload(page, 4 * MiB);
  await chooseFile(page, file);
  await waitForProgress(page, 'cancel-me.bin', 4 * MiB);
  const id = await waitForCreated('cancel-me.bin');
  assert.equal(await headStatus(server.baseUrl, id, { 'Tus-Resumable': '1.0.0' }), 200);
  await transferRow(page, 'cancel-me.bin').locator('button[data-action=cancel]').click();
  await waitForState(page, 'cancel-me.bin', 'cancelled', SHORT_MS);
  await throttleUpload(page, null);
  let status = 0;
  for (const start = Date.now(); Date.now() - start < SHORT_MS; await delay(100)) {
    status = await headStatus(server.baseUrl, id, { 'Tus-Resumable': '1.0.0' });
    if (status === 404) break;
  }
  assert.equal(status, 404, 'the upload is gone from the server');
});

test('a file over --max-upload-bytes gets an error on the page, in both widgets', { timeout: 120_000 }, async () => {
  const file = path.join(dir, 'too-big.bin');
  await writeSparseFile(file, 49 * MiB);
  await chooseFile(page, file);
  await waitForState(page, 'too-big.bin', 'error', SHORT_MS);
  assert.match(await transferRow(page, 'too-big.bin').locator('.detail').textContent(), /too large for this server/);

  const pond = path.join(dir, 'too-big-pond.bin');
  await writeSparseFile(pond, 49 * MiB);
  await page.locator('input[name=widget][value=filepond]').check();
  await chooseFile(page, pond, 'filepond');
  await waitForState(page, 'too-big-pond.bin', 'error', SHORT_MS);
  assert.match(await transferRow(page, 'too-big-pond.bin').locator('.detail').textContent(), /too large for this server/);
  assert.deepEqual(page.errors, []);
});
