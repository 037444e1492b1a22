"""Passes and what makes them ride: the catalogue of products and fare categories, passes
for a month, the phone a pass is bound to and its credentials, the signing keys, the QR,
the denylist, and publishing the trust list and denylist to the validators."""
