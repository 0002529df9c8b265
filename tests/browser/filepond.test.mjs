// Proves, in Debian's chromium against the real ringestd, that the page's FilePond widget (chunked
// uploads to /filepond) carries a 256 MiB upload through a `kill -9` of the server and its restart
// on the same port to completion (FilePond's chunk retries, then HEAD ?patch= for the offset,
// which is not zero): the SHA-256 of GET /files/<id> equals the file's, and the page shows the
// upload finished with that SHA-256 and a matching server CRC-32C. Also that the page remembers
// the widget chosen (FilePond stays chosen after a reload).
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
const servers = [];

before(async () => {
  dir = await tempDir('ringest-browser-filepond-');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const s of servers) await stopServer(s.child);
});

async function start(dataDir, args = []) {
  const s = await startServer(dataDir, args, (child) => servers.push({ child }));
  servers.push(s);
  return s;
}

test('FilePond: a 256 MiB chunked upload survives kill -9 and a restart of ringestd', { timeout: 240_000 }, async () => {
  const file = path.join(dir, 'pond-upload.bin');
  const fileSha = await writeRandomFile(file, SIZE);
  const dataDir = path.join(dir, 'data');
  const first = await start(dataDir);
  const page = await openPage(browser, `${first.baseUrl}/`);
  assert.equal(await pageReady(page), 'yes');
  await page.locator('input[name=widget][value=filepond]').check();
  await page.reload(); // the choice is remembered
  assert.equal(await pageReady(page), 'yes');
  assert.equal(await page.evaluate(() => document.body.dataset.widget), 'filepond');
  assert.equal(await page.locator('#uppy-area').isHidden(), true);

  await throttleUpload(page, 24 * MiB);
  await chooseFile(page, file, 'filepond');
  await waitForProgress(page, 'pond-upload.bin', 64 * MiB);
  await page.screenshot({ path: artifactPath('upload-page-filepond-during.png') });

  await killServer(first.child);
  const offsetsAfterRestart = [];
  page.on('request', (req) => {
    if (req.method() === 'PATCH') offsetsAfterRestart.push(Number(req.headers()['upload-offset']));
  });
  const second = await start(dataDir, ['--listen', `127.0.0.1:${portOf(first.baseUrl)}`]);
  await throttleUpload(page, null);
  await waitForState(page, 'pond-upload.bin', 'done');
  const entry = await finishedEntry(page, 'pond-upload.bin');
  await page.screenshot({ path: artifactPath('upload-page-filepond-after.png') });

  assert.equal(await storedSha256(second.baseUrl, entry.id), fileSha);
  assert.equal(entry.sha256, fileSha);
  // The page put the file's name in FilePond's metadata: ?load= names the download by it.
  const load = await fetch(`${second.baseUrl}/filepond?load=${entry.id}`, { method: 'HEAD' });
  assert.equal(load.status, 200);
  assert.match(load.headers.get('content-disposition') ?? '', /^inline; filename="pond-upload\.bin"/);
  assert.ok(offsetsAfterRestart[0] > 0, `resumed at ${offsetsAfterRestart[0]}, not from zero`);
  assert.equal(entry.check, 'match');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
