"""Who people are: rider accounts (from the national e-ID), operators and their roles,
signed-in browser sessions, bearer tokens."""
