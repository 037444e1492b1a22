"""Names of the Redis keys the issuer, the validators and the ingest share.

The braces are a hash tag: on Redis Cluster the stream and its high-water marks live in
one slot, so the idempotent push script can touch both.
"""

TRIPS_STREAM = "vexe:{trips}:stream"
TRIPS_HWM = "vexe:{trips}:hwm"  # hash: "<validator>/<journal epoch>" -> last pushed seq
TRUST_LIST = "vexe:trust"  # the JWKS, as a JSON string
DENYLIST = "vexe:deny"  # the denylist, as a JSON string
TRIPS_GROUP = "ingest"  # the consumer group of the ingest workers on TRIPS_STREAM
