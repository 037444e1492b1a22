// The QR text, docs/qr-format.md:  "VX1:" + base45(Z || S1 || T || S2).
// The issuer hands the phone Z || S1 (qr_body_head) with each credential, so the phone
// needs no DEFLATE; it adds the proof time T and its signature S2 of "VXP1" || T || jti.

const PREFIX = "VX1:";
const PROOF_CONTEXT = [0x56, 0x58, 0x50, 0x31]; // "VXP1"
const BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

function timeBytes(t) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, t, false); // big-endian
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((size, p) => size + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function proofMessage(t, jti) {
  return concat(Uint8Array.from(PROOF_CONTEXT), timeBytes(t), new TextEncoder().encode(jti));
}

export function qrText(head, t, signature) {
  return PREFIX + base45(concat(head, timeBytes(t), signature));
}

// RFC 9285. Written here because the npm packages for it are Node modules built on
// Buffer, with no browser file; each 2 bytes n become c d e with n = c + 45 d + 2025 e.
export function base45(bytes) {
  let out = "";
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const n = bytes[i] * 256 + bytes[i + 1];
    out += BASE45[n % 45] + BASE45[Math.floor(n / 45) % 45] + BASE45[Math.floor(n / 2025)];
  }
  if (bytes.length % 2) {
    const n = bytes[bytes.length - 1];
    out += BASE45[n % 45] + BASE45[Math.floor(n / 45)];
  }
  return out;
}

export function fromBase64url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

// The credential's claims, read (not verified: the phone trusts what its issuer sent over
// TLS; validators verify) for the jti to sign and the times to show.
export function credentialClaims(credential) {
  return JSON.parse(new TextDecoder().decode(fromBase64url(credential.split(".")[1])));
}
