// Where the page uploads to, with which token, through which widget. Read once from the URL
// fragment (never sent to any server): #token=T (kept in this tab's sessionStorage, then removed
// from the address bar), #endpoint=http://host:port (another ringestd; it needs --cors-origin
// for this page's origin), #widget=uppy|filepond. The widget choice is remembered in
// localStorage.

const TOKEN_KEY = 'ringest.token';
const WIDGET_KEY = 'ringest.widget';
export const WIDGETS = ['uppy', 'filepond'];

function readFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  if (params.has('token')) {
    sessionStorage.setItem(TOKEN_KEY, params.get('token'));
    params.delete('token');
    const rest = params.toString();
    // The token leaves the address bar (and so the history and anything copied from it).
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  }
  return params;
}

function originOf(text) {
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  } catch {
    // not a URL
  }
  return null;
}

const fragment = readFragment();
const endpointParam = fragment.get('endpoint');

export const settings = {
  // Scheme://host:port of the ringestd that receives the uploads.
  base: (endpointParam && originOf(endpointParam)) || location.origin,
  endpointError: endpointParam && !originOf(endpointParam) ? `ignored #endpoint=${endpointParam}: not an http(s) URL` : null,
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  widget: WIDGETS.includes(fragment.get('widget')) ? fragment.get('widget')
    : (WIDGETS.includes(localStorage.getItem(WIDGET_KEY)) ? localStorage.getItem(WIDGET_KEY) : 'uppy'),
};

export function setToken(token) {
  settings.token = token;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function setWidget(widget) {
  settings.widget = widget;
  localStorage.setItem(WIDGET_KEY, widget);
}

// The fields every request to the server carries.
export function authHeaders() {
  return settings.token ? { Authorization: `Bearer ${settings.token}` } : {};
}

// What an HTTP status means to someone uploading.
export function describeStatus(status, body) {
  const text = (body || '').trim().slice(0, 200);
  switch (status) {
    case 0: return 'the server cannot be reached';
    case 401: return 'this server needs an access token';
    case 403: return `refused by the server${text ? ': ' + text : ''}`;
    case 413: return `too large for this server${text ? ' (' + text + ')' : ''}`;
    case 507: return 'the server is out of space';
    default: return `the server answered ${status}${text ? ': ' + text : ''}`;
  }
}
