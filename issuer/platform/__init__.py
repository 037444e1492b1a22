"""What every part of the issuer stands on: settings, the database and its tables, the
secret keys, ids, errors, the audit log (one unit of work) and the metrics' counters."""
