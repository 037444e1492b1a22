// What the card shows for one pass right now: the QR, or why not and what to do.
// A pure function of what the page knows, so every refusal has one place that decides it.

export const SHOW = "show";

// pass: the issuer's view of it (as last fetched); device: this phone's record for it, or
// null; custodial: this phone cannot hold a key; online: the network answered last time;
// clockOffset: issuer minus phone in seconds, or null when not measured; now: phone time.
export function decide({ pass, device, custodial, online, clockOffset, freshness, now }) {
  // The issuer's time where the phone knows it: a wrong phone clock must not make a
  // valid pass look expired, nor hide that it has expired.
  const issuerNow = now + (clockOffset ?? 0);
  if (pass.status === "revoked") return { kind: "revoked", reason: pass.revoke_reason, code: pass.revoke_code };
  if (issuerNow >= pass.valid_until) return { kind: "expired", at: pass.valid_until };

  if (custodial) {
    if (!pass.device || !pass.device.custodial) {
      return { kind: "activate", elsewhere: Boolean(pass.device) };
    }
    if (issuerNow < pass.valid_from) return { kind: "not_yet_valid", at: pass.valid_from };
    // The issuer signs each proof with its own clock, so the phone's does not matter.
    return online ? { kind: "custodial" } : { kind: "custodial_offline" };
  }

  if (!device) return { kind: "activate", elsewhere: Boolean(pass.device) };
  if (!pass.device) return { kind: "removed" };
  if (pass.device.key !== device.device_key) return { kind: "replaced" };
  if (issuerNow < pass.valid_from) return { kind: "not_yet_valid", at: pass.valid_from };

  // The proof carries the phone's time; validators refuse it beyond the freshness window.
  // Offline the issuer's clock is unknown, but a phone behind the credential's own start by
  // more than the window is behind for certain.
  const off = clockOffset ?? Math.max(0, device.nbf - now);
  if (Math.abs(off) > freshness) return { kind: "clock", offset: off };

  if (now >= device.expires) {
    return online ? { kind: "renewing" } : { kind: "offline_too_long", at: device.expires };
  }
  return { kind: SHOW, until: device.expires };
}
