// Uppy (Dashboard + Tus) against <base>/files/: the default widget. tus-js-client keeps each
// upload's URL in localStorage (keyed by the file's name, type, size and date), so after a page
// reload (or a closed tab) the same file dropped again resumes where the server is, not at zero.
import { Dashboard, Tus, Uppy } from '/ui/vendor/uppy.min.mjs';
import { addFinished } from '/ui/finished.js';
import { authHeaders, describeStatus, settings } from '/ui/settings.js';
import { addTransfer, finish, progressTransfer, transferState } from '/ui/transfers.js';

// Long enough to ride out a server restart of several seconds (then every 5 s for a minute).
const RETRY_DELAYS_MS = [0, 500, 1000, 2000, 3000, ...Array(12).fill(5000)];

function statusOf(error) {
  const res = error?.originalResponse;
  return res ? { status: res.getStatus(), body: res.getBody() } : null;
}

export function createUppy(target) {
  const uppy = new Uppy({ id: 'ringest', autoProceed: true });
  uppy.use(Dashboard, {
    inline: true,
    target,
    width: '100%',
    height: 250,
    showProgressDetails: true,
    hideUploadButton: true,
    proudlyDisplayPoweredByUppy: false,
    note: 'Any number of files, any size. Uploads resume after a reload: drop the same file again.',
  });
  uppy.use(Tus, {
    endpoint: `${settings.base}/files/`,
    headers: () => authHeaders(), // read at each upload's start: a token entered later counts
    retryDelays: RETRY_DELAYS_MS,
    removeFingerprintOnSuccess: true,
    limit: 3,
  });
  const key = (file) => `uppy:${file.id}`;
  uppy.on('file-added', (file) => {
    addTransfer(key(file), file.name, file.size, {
      pause: () => uppy.pauseResume(file.id),
      cancel: () => uppy.removeFile(file.id), // Tus then terminates the upload (DELETE)
    });
  });
  uppy.on('upload-progress', (file, progress) => {
    if (file) progressTransfer(key(file), progress.bytesUploaded);
  });
  uppy.on('upload-success', (file, response) => {
    const id = new URL(response.uploadURL, settings.base).pathname.split('/').pop();
    finish(key(file), 'done', 'finished');
    addFinished({ id, name: file.name, size: file.size, url: `${settings.base}/files/${id}`, file: file.data });
  });
  uppy.on('upload-error', (file, error) => {
    if (!file) return;
    const s = statusOf(error);
    finish(key(file), 'error', s ? describeStatus(s.status, s.body) : `failed: ${error.message}`);
  });
  uppy.on('file-removed', (file) => {
    if (transferState(key(file)) === 'uploading' || transferState(key(file)) === 'paused') {
      finish(key(file), 'cancelled', 'cancelled: the upload was removed from the server');
    }
  });
  return uppy;
}
