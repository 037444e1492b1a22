"""What the issuer's web faces share: who is calling (auth), the browser's cookie and CSRF,
security headers, rate limits, request ids and the access log, query parameters."""
