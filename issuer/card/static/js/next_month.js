// Next month's pass on this phone: the issuer binds a renewed pass to the phone key that holds
// this month's, and hands its credential ahead (in a refresh's answer as `next`, or asked for
// here when the card sees such a pass). At 00:00 on the 1st, Hanoi time, the card shows the
// new month from what it holds, with or without the network.

// A record for `next` (a credential the issuer minted for the pass after `record`'s), with
// the same key pair: kept by `keep` (the card's keepCredential).
export async function carried(record, issued, keep) {
  const next = issued.next;
  if (!next || next.device_key !== record.device_key || !record.keys) return;
  await keep(recordFor(next.pass_id, record), next);
}

// Passes bound to a key this phone holds but not yet known here (renewed since): each gets
// a record with that key pair and a credential through `renew(pass, record)`.
export async function adopt(passes, devices, renew) {
  for (const pass of passes) {
    if (pass.status !== "active" || !pass.device || pass.device.custodial) continue;
    if (devices.has(pass.id)) continue;
    const holder = [...devices.values()].find((r) => r.device_key === pass.device.key && r.keys);
    if (holder) await renew(pass, recordFor(pass.id, holder));
  }
}

// The renewal of `pass` in `list`: the pass that starts when it ends, the same product and
// route, if the rider has it; else null.
export function after(pass, list) {
  return list.find((p) => p.status === "active" && p.valid_from === pass.valid_until
                    && p.product === pass.product && p.route === pass.route) ?? null;
}

// The pass to show instead of `pass` once it has ended: its renewal, if the rider has it.
export function following(pass, list, now) {
  if (!pass || pass.valid_until > now) return pass;
  return after(pass, list) ?? pass;
}

function recordFor(passId, holder) {
  return { pass_id: passId, account_id: holder.account_id, keys: holder.keys,
           device_key: holder.device_key };
}
