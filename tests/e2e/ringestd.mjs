// Shared by the end-to-end tests: start and stop the real ringestd (by PID, on an ephemeral
// loopback port), and hash files.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

export const MiB = 1024 * 1024;
const STARTUP_TIMEOUT_MS = 10_000;

export function serverBinary() {
  const bin = process.env.RINGESTD;
  if (!bin) {
    throw new Error('RINGESTD is not set: point it at the ringestd binary, e.g. RINGESTD=../../build/bin/ringestd node --test');
  }
  const abs = path.resolve(bin);
  try {
    fs.accessSync(abs, fs.constants.X_OK);
  } catch (err) {
    throw new Error(`RINGESTD=${bin} (resolved to ${abs}) is missing or not executable: ${err.message}`);
  }
  if (!fs.statSync(abs).isFile()) {
    throw new Error(`RINGESTD=${bin} (resolved to ${abs}) is not a regular file`);
  }
  return abs;
}

// Spawns ringestd on 127.0.0.1:0 with `args` (a `--listen` in them wins: a restart on the same
// port) and resolves with { child, baseUrl, stderr() } once its first stdout line ("listening
// on http://127.0.0.1:PORT") arrives. `onSpawn` gets the
// child at once, so a caller can stop it even when start-up fails.
export async function startServer(dataDir, args = [], onSpawn = () => {}) {
  const child = spawn(serverBinary(), ['--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onSpawn(child);
  let stderrText = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderrText = (stderrText + d).slice(-8192); // keep only the tail for diagnostics
  });
  const stderr = () => stderrText;
  const baseUrl = await new Promise((resolve, reject) => {
    let buf = '';
    let done = false;
    const finish = (err, url) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      if (err) reject(err);
      else resolve(url);
    };
    const onData = (d) => {
      if (done) return; // keep draining stdout so the pipe never fills
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl).replace(/\r$/, '');
      const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
      if (!m || Number(m[2]) === 0) {
        finish(new Error(`unexpected first stdout line from ringestd: ${JSON.stringify(line)}`));
      } else {
        finish(null, m[1]);
      }
    };
    const onExit = (code, signal) =>
      finish(new Error(`ringestd exited before printing its URL (code=${code}, signal=${signal})\nstderr:\n${stderr()}`));
    const onError = (err) => finish(new Error(`failed to spawn ringestd: ${err.message}`));
    const timer = setTimeout(
      () => finish(new Error(`ringestd printed no "listening on" line within ${STARTUP_TIMEOUT_MS} ms\nstderr:\n${stderr()}`)),
      STARTUP_TIMEOUT_MS,
    );
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
  return { child, baseUrl, stderr };
}

// SIGKILLs exactly the process we spawned (by its PID), a crash as the server sees it, and
// resolves once it has exited.
export async function killServer(child) {
  if (!child || child.pid === undefined) return;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(child.pid, 'SIGKILL');
  await exited;
}

// Stops exactly the process we spawned (by its PID), SIGKILL if SIGTERM is ignored.
export async function stopServer(child) {
  if (!child || child.pid === undefined) return; // spawn failed, nothing to stop
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

// Writes `size` random bytes to `file` in 1 MiB pieces and returns their SHA-256 (hex).
export async function writeRandomFile(file, size) {
  const hash = createHash('sha256');
  const fh = await fsp.open(file, 'w');
  try {
    for (let written = 0; written < size; ) {
      const piece = randomBytes(Math.min(MiB, size - written));
      hash.update(piece);
      await fh.write(piece, 0, piece.length);
      written += piece.length;
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export async function sha256OfFile(file) {
  const hash = createHash('sha256');
  for await (const piece of fs.createReadStream(file)) hash.update(piece);
  return hash.digest('hex');
}

// A tus HEAD of an upload: its status and the offset, length and deferred-length fields.
export async function tusHead(url) {
  const res = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
  return {
    status: res.status,
    offset: res.headers.get('upload-offset'),
    length: res.headers.get('upload-length'),
    deferred: res.headers.get('upload-defer-length'),
  };
}
