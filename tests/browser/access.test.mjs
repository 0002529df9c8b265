// Proves, in Debian's chromium against the real ringestd: with --auth-token-file the page itself
// loads without a token, takes one from #token= (and removes it from the address bar), sends it
// on every request of both widgets (the uploads succeed, the CRC-32C check and the download
// work), and without a token says that the server needs one and shows the refused upload as an
// error; and with --cors-origin the page served by one ringestd uploads to a second one on
// another port (another origin) named by #endpoint=.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  chooseFile, finishedEntry, headStatus, launchBrowser, MiB, openPage, pageReady, SHORT_MS,
  startServer, stopServer, storedSha256, tempDir, transferRow, waitForState, writeRandomFile,
} from './support.mjs';

const TOKEN = 'browser-test-token-7f3a';
let browser;
let dir;
const servers = [];

before(async () => {
  dir = await tempDir('ringest-browser-access-');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const s of servers) await stopServer(s.child);
});

async function start(name, args) {
  const s = await startServer(path.join(dir, name), args, (child) => servers.push({ child }));
  servers.push(s);
  return s;
}

test('with --auth-token-file: #token= uploads through both widgets; without it the page says so', { timeout: 120_000 }, async () => {
  const tokens = path.join(dir, 'tokens');
  fs.writeFileSync(tokens, `${TOKEN}\n`);
  const server = await start('data-token', ['--auth-token-file', tokens]);
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const file = path.join(dir, 'with-token.bin');
  const sha = await writeRandomFile(file, 3 * MiB);
  const pondFile = path.join(dir, 'with-token-pond.bin');
  const pondSha = await writeRandomFile(pondFile, 7 * MiB);

  const page = await openPage(browser, `${server.baseUrl}/#token=${TOKEN}`);
  assert.equal(await pageReady(page), 'yes');
  assert.ok(!page.url().includes(TOKEN), `the token left the address bar: ${page.url()}`);
  await chooseFile(page, file);
  await waitForState(page, 'with-token.bin', 'done');
  const entry = await finishedEntry(page, 'with-token.bin');
  assert.equal(entry.check, 'match');
  assert.equal(await storedSha256(server.baseUrl, entry.id, auth), sha);
  // The download link sends the token too (through fetch: a plain link cannot).
  const download = page.waitForEvent('download', { timeout: SHORT_MS });
  await page.locator('#finished-list tr', { hasText: 'with-token.bin' }).locator('a.download').click();
  assert.equal((await download).suggestedFilename(), 'with-token.bin');

  await page.locator('input[name=widget][value=filepond]').check();
  await chooseFile(page, pondFile, 'filepond');
  await waitForState(page, 'with-token-pond.bin', 'done');
  const pondEntry = await finishedEntry(page, 'with-token-pond.bin');
  assert.equal(pondEntry.check, 'match');
  assert.equal(await storedSha256(server.baseUrl, pondEntry.id, auth), pondSha);
  assert.deepEqual(page.errors, []);
  await page.context().close();

  const stranger = await openPage(browser, `${server.baseUrl}/`);
  assert.equal(await pageReady(stranger), 'token');
  assert.equal(await stranger.locator('#token-panel').isVisible(), true);
  await chooseFile(stranger, file);
  await waitForState(stranger, 'with-token.bin', 'error', SHORT_MS);
  assert.match(await transferRow(stranger, 'with-token.bin').locator('.detail').textContent(), /needs an access token/);
  await stranger.locator('#token-input').fill(TOKEN);
  await stranger.locator('#token-form button').click();
  await stranger.waitForFunction(() => document.body.dataset.ready === 'yes', null, { timeout: SHORT_MS });
  await stranger.context().close();
});

test('with --cors-origin: the page from one ringestd uploads to another (#endpoint=)', { timeout: 120_000 }, async () => {
  const pageServer = await start('data-page', []);
  const receiver = await start('data-receiver', ['--cors-origin', pageServer.baseUrl]);
  const file = path.join(dir, 'cross-origin.bin');
  const sha = await writeRandomFile(file, 5 * MiB);
  const page = await openPage(browser, `${pageServer.baseUrl}/#endpoint=${receiver.baseUrl}`);
  assert.equal(await pageReady(page), 'yes');
  await chooseFile(page, file);
  await waitForState(page, 'cross-origin.bin', 'done');
  const entry = await finishedEntry(page, 'cross-origin.bin');
  assert.equal(entry.check, 'match', 'Repr-Digest was readable across origins');
  assert.equal(await storedSha256(receiver.baseUrl, entry.id), sha);
  assert.equal(await headStatus(pageServer.baseUrl, entry.id), 404, 'nothing went to the page\'s own server');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
