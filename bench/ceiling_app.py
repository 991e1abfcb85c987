"""The ceiling of `make bench`: a bare Flask app, no extensions, one route answering one indexed
primary-key query on the `region` table as a small JSON body.

`bench/platform_bench.py` runs it under the same gunicorn settings (worker count, class, threads)
as the platform in the same run, over random region codes; every read of the platform is reported
as a share of this figure (issue 20). The database comes from CEILING_DATABASE_URL (a libpq URL,
set by the bench from the platform's own database URL). One connection per worker thread, opened
after the fork, in autocommit: the least a Flask endpoint with one query can cost.
"""
import os
import threading

import psycopg2
from flask import Flask, jsonify

DSN = os.environ.get("CEILING_DATABASE_URL", "postgresql://kim@127.0.0.1:54329/kim")
_local = threading.local()

app = Flask(__name__)


def _connection():
    connection = getattr(_local, "connection", None)
    if connection is None or connection.closed:
        connection = psycopg2.connect(DSN)
        connection.autocommit = True
        _local.connection = connection
    return connection


@app.get("/region/<code>")
def region(code: str):
    with _connection().cursor() as cursor:
        cursor.execute("SELECT code, name, level, parent_code FROM region WHERE code = %s", (code,))
        row = cursor.fetchone()
    if row is None:
        return jsonify(error="not found"), 404
    return jsonify(code=row[0], name=row[1], level=row[2], parent_code=row[3])
