// Calls to the issuer as the signed-in rider (the session cookie). A call that changes
// something carries the session's CSRF token in X-CSRFToken, as the issuer asks of every
// cookie-authenticated call.

const TIMEOUT = 10000; // ms: past this on a bus, the network is as good as away

export class Offline extends Error {}

export class Refused extends Error {
  constructor(status, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
  }
}

async function call(method, path, body, accept = "application/json") {
  const headers = { Accept: accept };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRFToken"] = document.body.dataset.csrf;
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT);
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin", cache: "no-store", signal: abort.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new Offline(String(error));
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    let message = "";
    try {
      const answer = await response.json();
      message = answer.message || answer.error; // the words for people, in their language
    } catch (ignored) {
      // not JSON (a proxy's page): the status says enough
    }
    throw new Refused(response.status, message);
  }
  return response;
}

// A body cut off by the network is the network's fault, not the issuer's.
async function read(response, how) {
  try {
    return await response[how]();
  } catch (error) {
    throw new Offline(String(error));
  }
}

export const getJson = async (path) => read(await call("GET", path), "json");
export const getText = async (path) => read(await call("GET", path, undefined, "text/plain"), "text");
export const postJson = async (path, body = {}) => read(await call("POST", path, body), "json");

// The issuer's clock minus the phone's, in seconds. Half the round trip is the error.
export async function clockOffset(path) {
  const before = Date.now();
  const answer = await getJson(path);
  const after = Date.now();
  return answer.now - (before + after) / 2000;
}
