// Proves, in Debian's chromium against the real ringestd, that the page's default widget (Uppy
// with tus) carries a 256 MiB upload through a `kill -9` of the server and its restart on the same
// port to completion, resuming at the server's offset rather than from zero, with the right bytes
// (the SHA-256 of GET /files/<id> equals the file's, and the page shows it finished with that
// SHA-256 and a matching server CRC-32C); and that after a page reload mid-upload the same file
// dropped again resumes from the offset the server holds (the first PATCH carries a non-zero
// Upload-Offset), not from zero.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  artifactPath, chooseFile, finishedEntry, killServer, launchBrowser, MiB, openPage, pageReady,
  portOf, startServer, stopServer, storedSha256, tempDir, throttleUpload, waitForProgress,
  waitForState, writeRandomFile,
} from './support.mjs';

const SIZE = 256 * MiB;
let browser;
let dir;
let file;
let fileSha;
const servers = [];

before(async () => {
  dir = await tempDir('ringest-browser-uppy-');
  file = path.join(dir, 'big-upload.bin');
  fileSha = await writeRandomFile(file, SIZE);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const s of servers) await stopServer(s.child);
});

async function start(dataDir, args = []) {
  const s = await startServer(dataDir, ['--checkpoint-bytes', '8M', ...args], (child) => servers.push({ child }));
  servers.push(s);
  return s;
}

test('a 256 MiB upload survives kill -9 and a restart of ringestd, and the page shows it', { timeout: 240_000 }, async () => {
  const dataDir = path.join(dir, 'data-kill');
  const first = await start(dataDir);
  const page = await openPage(browser, `${first.baseUrl}/`);
  assert.equal(await pageReady(page), 'yes');
  await throttleUpload(page, 24 * MiB); // slow enough to act mid-upload
  await chooseFile(page, file);
  await waitForProgress(page, 'big-upload.bin', 64 * MiB);
  await page.screenshot({ path: artifactPath('upload-page-during.png') });

  await killServer(first.child); // the crash, mid-body
  const offsetsAfterRestart = [];
  page.on('request', (req) => {
    if (req.method() === 'PATCH') offsetsAfterRestart.push(Number(req.headers()['upload-offset']));
  });
  const second = await start(dataDir, ['--listen', `127.0.0.1:${portOf(first.baseUrl)}`]);
  await throttleUpload(page, null);
  await waitForState(page, 'big-upload.bin', 'done');
  const entry = await finishedEntry(page, 'big-upload.bin');
  await page.screenshot({ path: artifactPath('upload-page-after.png') });

  assert.equal(await storedSha256(second.baseUrl, entry.id), fileSha);
  assert.equal(entry.sha256, fileSha, 'the page shows the file SHA-256');
  assert.ok(offsetsAfterRestart[0] > 0, `resumed at ${offsetsAfterRestart[0]}, not from zero`);
  assert.equal(entry.check, 'match', "the server's whole-file CRC-32C matches the browser's");
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('after a page reload mid-upload, the same file resumes from a non-zero offset', { timeout: 240_000 }, async () => {
  const dataDir = path.join(dir, 'data-reload');
  const server = await start(dataDir);
  const page = await openPage(browser, `${server.baseUrl}/`);
  assert.equal(await pageReady(page), 'yes');
  await throttleUpload(page, 24 * MiB);
  await chooseFile(page, file);
  await waitForProgress(page, 'big-upload.bin', 48 * MiB);

  await page.reload();
  assert.equal(await pageReady(page), 'yes');
  const patchOffsets = [];
  page.on('request', (req) => {
    if (req.method() === 'PATCH') patchOffsets.push(Number(req.headers()['upload-offset']));
  });
  await throttleUpload(page, null);
  await chooseFile(page, file); // dropped again
  await waitForState(page, 'big-upload.bin', 'done');
  const entry = await finishedEntry(page, 'big-upload.bin');

  assert.ok(patchOffsets.length > 0, 'a PATCH was sent');
  assert.ok(patchOffsets[0] > 0, `resumed from offset ${patchOffsets[0]}, not from zero`);
  assert.equal(await storedSha256(server.baseUrl, entry.id), fileSha);
  assert.equal(entry.sha256, fileSha);
  assert.equal(entry.check, 'match');
  await page.context().close();
});
