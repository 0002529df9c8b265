// Shared by the browser tests: Debian's chromium (playwright-core, headless) against the real
// ringestd (started and stopped by PID through ../e2e/ringestd.mjs), files to upload, and ways
// to wait for what the page shows. Every wait has a generous bound (a slow, shared 2-core
// machine) and waits for a condition, never for a fixed time.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';

export { killServer, MiB, startServer, stopServer, writeRandomFile } from '../e2e/ringestd.mjs';

export const LONG_MS = 180_000; // a 256 MiB upload, a restart and the hashing, on a busy machine
export const SHORT_MS = 30_000;

export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    throw new Error(`no chromium at ${executablePath} (tools/setup.sh installs Debian's chromium; CHROMIUM=... points elsewhere)`);
  }
  return chromium.launch({ executablePath, headless: true });
}

// A fresh browser context (its own localStorage) and page; console errors are collected.
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 650 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/.test(msg.text())) page.errors.push(msg.text());
  });
  await page.goto(url);
  return page;
}

// The page has asked the server whether it may upload: 'yes', 'token' or 'unreachable'.
export async function pageReady(page) {
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: SHORT_MS });
  return page.evaluate(() => document.body.dataset.ready);
}

// Limits what the browser sends per second (Chrome's network emulation throttles uploads),
// so a test can act while an upload is in flight; null lifts the limit.
export async function throttleUpload(page, bytesPerSecond) {
  if (!page.cdp) {
    page.cdp = await page.context().newCDPSession(page);
    await page.cdp.send('Network.enable');
  }
  await page.cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond ?? -1,
  });
}

// Chooses `file` in the widget on show, as its "browse" button does (Uppy's Dashboard shows its
// file input only while its add-files panel is open: "Add more" opens it again).
export async function chooseFile(page, file, widget = 'uppy') {
  if (widget === 'filepond') {
    await page.locator('#filepond-area input.filepond--browser').setInputFiles(file);
    return;
  }
  const input = page.locator('#uppy-area input.uppy-Dashboard-input:not([webkitdirectory])').first();
  if ((await input.count()) === 0) await page.locator('#uppy-area .uppy-DashboardContent-addMore').click();
  await input.setInputFiles(file);
}

// The transfers row of the file called `name` (the newest when there are several).
export function transferRow(page, name) {
  return page.locator('#transfer-list li', { has: page.locator('.name', { hasText: name }) }).first();
}

// Waits until the row of `name` shows at least `bytes` sent.
export async function waitForProgress(page, name, bytes) {
  await page.waitForFunction(([n, b]) => {
    for (const li of document.querySelectorAll('#transfer-list li')) {
      if (li.querySelector('.name').textContent === n) return li.querySelector('progress').value >= b;
    }
    return false;
  }, [name, bytes], { timeout: LONG_MS, polling: 100 });
}

// Waits until the row of `name` reaches `state` (done, error, cancelled, paused).
export async function waitForState(page, name, state, timeout = LONG_MS) {
  await transferRow(page, name).and(page.locator(`[data-state="${state}"]`)).waitFor({ timeout });
}

// The finished-list entry of `name` once hashed and checked: { id, sha256, check }.
export async function finishedEntry(page, name) {
  const row = page.locator('#finished-list tr', { has: page.locator('td', { hasText: name }) }).first();
  await row.locator('td.check:not([data-check="pending"])').waitFor({ timeout: LONG_MS });
  return row.evaluate((tr) => ({ id: tr.dataset.id, sha256: tr.dataset.sha256, check: tr.querySelector('td.check').dataset.check }));
}

// SHA-256 (hex) of what the server stored for upload `id` (GET /files/<id>, streamed).
export async function storedSha256(baseUrl, id, headers = {}) {
  const res = await fetch(`${baseUrl}/files/${id}`, { headers });
  if (res.status !== 200) throw new Error(`GET /files/${id} answered ${res.status}`);
  const hash = createHash('sha256');
  for await (const piece of res.body) hash.update(piece);
  return hash.digest('hex');
}

export async function headStatus(baseUrl, id, headers = {}) {
  return (await fetch(`${baseUrl}/files/${id}`, { method: 'HEAD', headers })).status;
}

export async function tempDir(prefix) {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

// Where screenshots go: RINGEST_BROWSER_ARTIFACTS (ctest: the build tree) or a temp dir.
export function artifactPath(name) {
  const dir = process.env.RINGEST_BROWSER_ARTIFACTS || path.join(os.tmpdir(), 'ringest-browser-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

// A file of `size` bytes that reads as zeros and costs no disk (sparse): for size limits.
export async function writeSparseFile(file, size) {
  const fh = await fsp.open(file, 'w');
  await fh.truncate(size);
  await fh.close();
}

export function portOf(baseUrl) {
  return new URL(baseUrl).port;
}
