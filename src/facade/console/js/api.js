// The console's only way to the control plane: the public /v1 API with the signed-in token.
// The token lives in sessionStorage (this tab's session, never a URL); a 401 (a revoked or
// unknown token) signs the page out; every other refusal is an ApiError carrying the API's own
// code, message and `where`, which pages show as they are.

const KEY = "facade.token";

/** @typedef {{code: string, message: string, where: string | null}} ErrorBody */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {ErrorBody} body
   */
  constructor(status, body) {
    super(body.message);
    this.status = status;
    this.code = body.code;
    this.where = body.where;
  }
}

/** @type {(message: string) => void} */
let signedOut = () => {};

/** Who to tell when a 401 signs the page out.
 * @param {(message: string) => void} handler
 */
export function onSignOut(handler) { signedOut = handler; }

/** @returns {string | null} */
export function token() { return sessionStorage.getItem(KEY); }

/** @param {string} value */
export function keep(value) { sessionStorage.setItem(KEY, value); }

export function forget() { sessionStorage.removeItem(KEY); }

/** One request to the API; its JSON answer (null for 204).
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function call(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Authorization: `Bearer ${token() ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status === 204) return null;
  const text = await resp.text();
  /** @type {any} */
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (resp.ok) return data;
  /** @type {ErrorBody} */
  const error = data?.error ?? { code: "http_error", message: `HTTP ${resp.status}`, where: null };
  if (resp.status === 401) {
    forget();
    signedOut(error.message);
  }
  throw new ApiError(resp.status, error);
}

/** Every item of a list route, following next_cursor (pages of 1000).
 * @param {string} path with its own query, if any
 * @returns {Promise<any[]>}
 */
export async function all(path) {
  /** @type {any[]} */
  const items = [];
  /** @type {string | null} */
  let cursor = null;
  const sep = path.includes("?") ? "&" : "?";
  do {
    const more = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    /** @type {{items: any[], next_cursor: string | null}} */
    const page = await call("GET", `${path}${sep}limit=1000${more}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** The markup of an API error as the API words it.
 * @param {unknown} err
 * @returns {string}
 */
export function describe(err) {
  if (err instanceof ApiError) {
    const where = err.where ? ` (at ${err.where})` : "";
    return `${err.status} ${err.code}: ${err.message}${where}`;
  }
  return err instanceof Error ? err.message : String(err);
}
