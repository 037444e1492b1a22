// The reminder to renew a monthly pass, in its last days. The issuer hands, with each pass
// (`renewal`), the moment the reminder starts (the window of the account page and the
// e-mails, issuer/sales/reminders.py) and whether next month was held or ordered when the
// card last synced; the card decides with its own clock and what this phone holds, so the
// reminder comes on time offline too.

import { after } from "./next_month.js";

// null, or what to say: "due" (renew now), "ordered" (renewal waiting for payment), or
// "ready" (next month's credential is on this phone). `now`: the issuer's time as the card
// knows it; `devices`: this phone's records per pass id.
export function reminder(pass, list, devices, now) {
  const renewal = pass.renewal;
  if (!renewal || pass.status !== "active") return null;
  if (now < renewal.remind_from || now >= pass.valid_until) return null;
  const next = after(pass, list);
  // The new month shows here at 00:00 by itself: nothing to do but to know it.
  if (next && devices.get(next.id)?.credential) return { kind: "ready", ends: pass.valid_until };
  if (next || renewal.held) return null;
  const order = renewal.order;
  if (order && (order.expires_at === null || now < order.expires_at)) {
    return { kind: "ordered", ends: pass.valid_until, order: order.id };
  }
  return { kind: "due", ends: pass.valid_until, pass: pass.id };
}
