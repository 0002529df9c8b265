// The transfers list: one row per file with a progress bar, bytes, rate and time left, and the
// buttons the widget supports (pause/resume, cancel). Both widgets report into it.

const list = () => document.getElementById('transfer-list');
const rows = new Map(); // key -> { el, size, bytes, rate, lastTime, lastBytes }

export function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function formatSeconds(s) {
  if (!isFinite(s)) return '';
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.ceil((s % 3600) / 60)} min`;
}

function button(label, action, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.action = action;
  b.addEventListener('click', onClick);
  return b;
}

// A row for a new file. `controls`: { pause?(): boolean (true: now paused), cancel?() }.
export function addTransfer(key, name, size, controls = {}) {
  document.getElementById('no-transfers').hidden = true;
  const el = document.createElement('li');
  el.dataset.key = key;
  el.dataset.state = 'uploading';
  const title = document.createElement('span');
  title.className = 'name';
  title.textContent = name;
  const progress = document.createElement('progress');
  progress.max = Math.max(size, 1);
  progress.value = 0;
  const detail = document.createElement('span');
  detail.className = 'detail';
  detail.textContent = `0 B of ${formatBytes(size)}`;
  const buttons = document.createElement('span');
  buttons.className = 'buttons';
  if (controls.pause) {
    const pause = button('Pause', 'pause', () => {
      const paused = controls.pause();
      pause.textContent = paused ? 'Resume' : 'Pause';
      pause.dataset.action = paused ? 'resume' : 'pause';
      setState(key, paused ? 'paused' : 'uploading');
    });
    buttons.append(pause);
  }
  if (controls.cancel) {
    buttons.append(button('Cancel', 'cancel', () => {
      controls.cancel();
      finish(key, 'cancelled', 'cancelled: the upload was removed from the server');
    }));
  }
  el.append(title, buttons, progress, detail);
  list().prepend(el);
  rows.set(key, { el, size, bytes: 0, rate: 0, lastTime: performance.now(), lastBytes: 0 });
}

function setState(key, state) {
  const row = rows.get(key);
  if (row) row.el.dataset.state = state;
  if (row) render(row);
}

function render(row) {
  const parts = [`${formatBytes(row.bytes)} of ${formatBytes(row.size)}`];
  if (row.el.dataset.state === 'paused') {
    parts.push('paused');
  } else if (row.rate > 0) {
    parts.push(`${formatBytes(row.rate)}/s`);
    parts.push(`${formatSeconds((row.size - row.bytes) / row.rate)} left`);
  }
  row.el.querySelector('.detail').textContent = parts.join(' · ');
}

export function progressTransfer(key, bytes) {
  const row = rows.get(key);
  if (!row || row.el.dataset.state === 'done') return;
  const now = performance.now();
  const dt = (now - row.lastTime) / 1000;
  if (bytes < row.lastBytes) { // started over (or resumed from a lower offset)
    row.lastBytes = bytes;
    row.lastTime = now;
  } else if (dt >= 0.5) {
    const instant = (bytes - row.lastBytes) / dt;
    row.rate = row.rate > 0 ? 0.7 * row.rate + 0.3 * instant : instant;
    row.lastBytes = bytes;
    row.lastTime = now;
  }
  row.bytes = bytes;
  row.el.querySelector('progress').value = bytes;
  render(row);
}

// The end of a transfer: 'done', 'error' or 'cancelled', with a line saying so.
export function finish(key, state, message) {
  const row = rows.get(key);
  if (!row) return;
  row.el.dataset.state = state;
  if (state === 'done') {
    row.bytes = row.size;
    row.el.querySelector('progress').value = row.el.querySelector('progress').max;
  }
  row.el.querySelector('.detail').textContent = message;
  row.el.querySelector('.buttons').replaceChildren();
}

export function transferState(key) {
  return rows.get(key)?.el.dataset.state;
}
