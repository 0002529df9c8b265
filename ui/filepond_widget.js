// FilePond with its chunked upload against <base>/filepond (the protocol in docs/protocols.md:
// POST for an id, PATCH ?patch=<id> per chunk, HEAD ?patch=<id> to resume after a failed
// chunk). A chunk that fails is retried after each of chunkRetryDelays; the resumed upload
// skips the chunks the server already holds. FilePond has no pause; a cancelled upload is
// removed from the server (DELETE with its transfer id, FilePond's revert).
import * as FilePond from '/ui/vendor/filepond.esm.min.js';
import { addFinished } from '/ui/finished.js';
import { authHeaders, describeStatus, settings } from '/ui/settings.js';
import { addTransfer, finish, progressTransfer, transferState } from '/ui/transfers.js';

// Long enough to ride out a server restart of several seconds (then every 5 s for a minute).
const CHUNK_RETRY_DELAYS_MS = [500, 1000, 2000, 3000, ...Array(12).fill(5000)];

function serverOptions() {
  return {
    url: `${settings.base}/filepond`,
    headers: authHeaders(),
    process: { url: '', method: 'POST' },
    patch: '?patch=',
    revert: '',
    restore: '?restore=',
    load: '?load=',
    fetch: null, // never: it would make the server fetch URLs
  };
}

function describe(error) {
  if (error && typeof error.code === 'number') return describeStatus(error.code, error.body);
  return (error && (error.main || error.body)) || 'failed';
}

function revert(transferId) {
  fetch(`${settings.base}/filepond`, { method: 'DELETE', headers: authHeaders(), body: transferId })
    .catch(() => {}); // the server may be gone: nothing more to do here
}

export function createFilePond(input) {
  const key = (item) => `fp:${item.id}`;
  const pond = FilePond.create(input, {
    allowMultiple: true,
    credits: false,
    instantUpload: true,
    allowRevert: false,
    chunkUploads: true,
    chunkForce: true,
    chunkRetryDelays: CHUNK_RETRY_DELAYS_MS,
    server: serverOptions(),
    // FilePond sends empty metadata unless told; the server names and types the stored file
    // (downloads, ?load=) from these two keys of the creation's metadata form.
    beforeAddFile: (item) => {
      item.setMetadata('filename', item.filename);
      if (item.fileType) item.setMetadata('filetype', item.fileType);
      return true;
    },
    labelIdle: 'Drop files here or <span class="filepond--label-action">browse</span>',
    labelFileProcessingError: (error) => describe(error),
    onaddfile: (error, item) => {
      if (error) return;
      addTransfer(key(item), item.filename, item.fileSize, {
        cancel: () => {
          const transferId = pond.getFile(item.id)?.transferId;
          pond.removeFile(item.id);
          if (transferId) revert(transferId);
        },
      });
    },
    onprocessfileprogress: (item, progress) => progressTransfer(key(item), Math.round(progress * item.fileSize)),
    onprocessfile: (error, item) => {
      if (error) {
        finish(key(item), 'error', describe(error));
        return;
      }
      const id = item.serverId;
      finish(key(item), 'done', 'finished');
      addFinished({ id, name: item.filename, size: item.fileSize, url: `${settings.base}/files/${id}`, file: item.file });
    },
    onremovefile: (error, item) => {
      if (transferState(key(item)) === 'uploading') finish(key(item), 'cancelled', 'cancelled');
    },
  });
  return {
    pond,
    // A token entered later: the next requests carry it.
    refresh: () => pond.setOptions({ server: serverOptions() }),
  };
}
