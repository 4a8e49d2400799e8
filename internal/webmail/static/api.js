// api.js: the JSON API client. Every state-changing request carries the
// session's CSRF token; a 401 anywhere means the session is gone.

let csrf = '';

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function setCSRF(token) { csrf = token; }

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function request(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = csrf;
  if (body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new APIError(0, 'The server cannot be reached.');
  }
  if (res.status === 204) return null;
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.startsWith('application/json')) data = await res.json();
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/login') onUnauthorized();
    throw new APIError(res.status, (data && data.error) || `Request failed (${res.status})`);
  }
  return data;
}

export const get = (p) => request('GET', p);
export const post = (p, b) => request('POST', p, b === undefined ? {} : b);
export const patch = (p, b) => request('PATCH', p, b);
export const del = (p) => request('DELETE', p);
