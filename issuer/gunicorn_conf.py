"""gunicorn settings for the issuer: ``gunicorn -c python:issuer.gunicorn_conf 'issuer:create_app()'``.

Only what the issuer needs beyond gunicorn's defaults; workers, the address and the rest
are given on the command line.
"""

import gc


def post_worker_init(worker) -> None:
    """Once the app is loaded in a worker, keep what loading made (Flask, SQLAlchemy,
    Jinja: about 180,000 objects that live as long as the process) out of the cyclic
    collector. Without this, a request that holds many objects at once (the console's
    Validators table: one per validator) sets off full collections that go over all of
    them, about 90 ms each, every few requests."""
    gc.freeze()
