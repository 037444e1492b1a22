// The phone's own key for a pass: ECDSA P-256, generated here as non-extractable, so the
// private half signs proofs but no script (this one included) can read it out or copy it to
// another phone. Only the public half is sent to the issuer.

const KEY = { name: "ECDSA", namedCurve: "P-256" };
const SIGNATURE = { name: "ECDSA", hash: "SHA-256" };

// WebCrypto exists only in a secure context (HTTPS, or this machine), and the key needs
// IndexedDB to outlive the page. Without both, the card falls back to the issuer's QR.
export function supported() {
  return Boolean(window.isSecureContext && window.crypto && window.crypto.subtle
                 && typeof indexedDB !== "undefined");
}

export function create() {
  return crypto.subtle.generateKey(KEY, false, ["sign"]);
}

// The public key as the issuer's API takes it: the uncompressed point, base64url.
export async function publicPoint(pair) {
  const point = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return btoa(String.fromCharCode(...point)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

// Raw r || s, 64 bytes: what WebCrypto returns and what the QR format carries.
export async function sign(privateKey, message) {
  return new Uint8Array(await crypto.subtle.sign(SIGNATURE, privateKey, message));
}
