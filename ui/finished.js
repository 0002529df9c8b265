// Finished uploads made from this browser, kept in localStorage (the server lists nobody's
// uploads). For each: size, SHA-256 computed here by streaming the chosen file through
// hash-wasm (file.stream(): never the whole file in memory), and a check of the server's
// whole-file CRC-32C (Repr-Digest on HEAD /files/<id>) against a CRC-32C computed in the same
// pass, and a download link.
import { createCRC32, createSHA256 } from '/ui/vendor/hash-wasm.esm.min.js';
import { authHeaders, settings } from '/ui/settings.js';
import { formatBytes } from '/ui/transfers.js';

const STORE_KEY = 'ringest.finished';
const MAX_KEPT = 200;
const CRC32C_POLYNOMIAL = 0x82f63b78; // hash-wasm's CRC-32 with the Castagnoli polynomial

function load() {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY) || '[]');
  } catch {
    return [];
  }
}

function save(entries) {
  localStorage.setItem(STORE_KEY, JSON.stringify(entries.slice(0, MAX_KEPT)));
}

// SHA-256 (hex) and CRC-32C (as the base64 of its 4 big-endian bytes, like Repr-Digest).
async function digests(file) {
  const [sha, crc] = await Promise.all([createSHA256(), createCRC32(CRC32C_POLYNOMIAL)]);
  sha.init();
  crc.init();
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    sha.update(value);
    crc.update(value);
  }
  const crcHex = crc.digest('hex');
  const crcBytes = crcHex.match(/../g).map((h) => parseInt(h, 16));
  return { sha256: sha.digest('hex'), crc32c: btoa(String.fromCharCode(...crcBytes)) };
}

// The server's whole-file CRC-32C: Repr-Digest: crc32c=:<base64>: (null when not sent).
async function serverCrc32c(url) {
  const res = await fetch(url, { method: 'HEAD', headers: authHeaders() });
  if (!res.ok) throw new Error(`HEAD answered ${res.status}`);
  const m = /crc32c=:([A-Za-z0-9+/=]+):/.exec(res.headers.get('Repr-Digest') || '');
  return m ? m[1] : null;
}

// Downloads through fetch when a token must be sent (a plain link cannot send one).
async function downloadWithToken(entry) {
  const res = await fetch(entry.url, { headers: authHeaders() });
  if (!res.ok) throw new Error(`download answered ${res.status}`);
  const blob = await res.blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = entry.name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

function row(entry) {
  const tr = document.createElement('tr');
  tr.dataset.id = entry.id;
  tr.dataset.sha256 = entry.sha256 || '';
  const cells = [entry.name, formatBytes(entry.size), entry.sha256 || 'computing…'];
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  tr.children[2].className = 'hash';
  const check = document.createElement('td');
  check.className = 'check';
  check.dataset.check = entry.check || 'pending';
  check.textContent = {
    match: 'CRC-32C matches',
    mismatch: 'CRC-32C DIFFERS: the stored bytes are not the file',
    unavailable: 'no CRC-32C from the server',
    failed: entry.checkError || 'check failed',
    pending: 'checking…',
  }[check.dataset.check];
  const link = document.createElement('td');
  const a = document.createElement('a');
  a.href = entry.url;
  a.textContent = 'download';
  a.className = 'download';
  a.addEventListener('click', (event) => {
    if (!settings.token) return; // a plain link works
    event.preventDefault();
    downloadWithToken(entry).catch((err) => alert(err.message));
  });
  link.append(a);
  tr.append(check, link);
  return tr;
}

export function renderFinished() {
  const body = document.getElementById('finished-list');
  body.replaceChildren(...load().map(row));
}

function update(id, changes) {
  const entries = load();
  const entry = entries.find((e) => e.id === id);
  if (!entry) return;
  Object.assign(entry, changes);
  save(entries);
  renderFinished();
}

// A finished upload: listed at once, then hashed and checked.
export async function addFinished({ id, name, size, url, file }) {
  save([{ id, name, size, url, finishedAt: Date.now() }, ...load().filter((e) => e.id !== id)]);
  renderFinished();
  let local;
  try {
    local = await digests(file);
    update(id, { sha256: local.sha256 });
  } catch (err) {
    update(id, { check: 'failed', checkError: `cannot read the file here: ${err.message}` });
    return;
  }
  try {
    const remote = await serverCrc32c(url);
    if (remote === null) update(id, { check: 'unavailable' });
    else update(id, { check: remote === local.crc32c ? 'match' : 'mismatch' });
  } catch (err) {
    update(id, { check: 'failed', checkError: err.message });
  }
}

export function forgetFinished() {
  localStorage.removeItem(STORE_KEY);
  renderFinished();
}
