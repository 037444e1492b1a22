"""The floor the issuer is measured against: a bare Flask app answering "hello".

    gunicorn -c python:issuer.gunicorn_conf --workers 4 'bench.hello_app:create_app()'

Served by gunicorn with the issuer's own settings, it is what the framework and the server
cost for one request with no database, no Redis and no signature (bench/bench_refresh.py).
"""

import flask


def create_app() -> flask.Flask:
    app = flask.Flask(__name__)

    @app.post("/hello")
    def hello():
        return {"hello": "world"}

    return app
