"""Code that the issuer and the validator share: the ticket format, keys, clock, reasons, trips."""
