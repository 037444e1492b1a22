"""The rider's pages: the start page and e-ID sign-in, the account, buying a pass, free
passes. The card on the phone is issuer.card."""
