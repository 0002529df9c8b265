// The upload page: picks the widget (Uppy by default, FilePond on request; the choice is kept),
// asks for a token when the server wants one, and wires both widgets to the transfers and
// finished lists. No inline script: everything is in these modules (a strict CSP is sent).
import { createFilePond } from '/ui/filepond_widget.js';
import { forgetFinished, renderFinished } from '/ui/finished.js';
import { authHeaders, describeStatus, setToken, setWidget, settings } from '/ui/settings.js';
import { createUppy } from '/ui/uppy_widget.js';

const widgets = {}; // created on first use: { uppy, filepond }

function showWidget(name) {
  setWidget(name);
  for (const input of document.querySelectorAll('input[name=widget]')) input.checked = input.value === name;
  document.getElementById('uppy-area').hidden = name !== 'uppy';
  document.getElementById('filepond-area').hidden = name !== 'filepond';
  if (name === 'uppy' && !widgets.uppy) widgets.uppy = createUppy('#uppy-area');
  if (name === 'filepond' && !widgets.filepond) {
    widgets.filepond = createFilePond(document.getElementById('filepond-input'));
  }
  document.body.dataset.widget = name;
}

// Asks the server whether this page may upload (OPTIONS /files/ with the token, if any).
async function probe() {
  const target = document.getElementById('target');
  const where = settings.base === location.origin ? 'this server' : settings.base;
  try {
    const res = await fetch(`${settings.base}/files/`, { method: 'OPTIONS', headers: authHeaders() });
    const needsToken = res.status === 401 || res.status === 403;
    document.getElementById('token-panel').hidden = !needsToken;
    document.getElementById('token-message').textContent =
      needsToken && settings.token ? describeStatus(res.status, 'the token was not accepted') : '';
    target.textContent = needsToken ? `Uploads to ${where} need a token.`
      : res.ok ? `Uploading to ${where}${settings.token ? ' (with a token)' : ''}.`
        : `${where}: ${describeStatus(res.status, await res.text())}`;
    document.body.dataset.ready = needsToken ? 'token' : 'yes';
  } catch {
    target.textContent = `${where} cannot be reached${settings.base !== location.origin ? ' (is it started with --cors-origin ' + location.origin + '?)' : ''}.`;
    document.body.dataset.ready = 'unreachable';
  }
  if (settings.endpointError) target.textContent += ` (${settings.endpointError})`;
}

function wire() {
  for (const input of document.querySelectorAll('input[name=widget]')) {
    input.addEventListener('change', () => showWidget(input.value));
  }
  document.getElementById('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setToken(document.getElementById('token-input').value.trim());
    widgets.filepond?.refresh();
    probe();
  });
  document.getElementById('forget-finished').addEventListener('click', forgetFinished);
}

wire();
renderFinished();
showWidget(settings.widget);
probe();
