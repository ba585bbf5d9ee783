"""The Postgres door as psycopg 3 sees it (run by tests/it/pg.rs).

Usage: psycopg_door.py HOST PORT USER PASSWORD
Prints one JSON object: what the Rust test compares with the HTTP door.
"""
import datetime
import json
import sys
import threading
import time

import psycopg

host, port, user, password = sys.argv[1:5]
dsn = f"host={host} port={port} user={user} password={password} dbname=icsw"
out = {}
with psycopg.connect(dsn, autocommit=True) as conn:
    cur = conn.cursor()
    # Bound parameters of three types (text, date, integer): the extended
    # protocol, a prepared statement bound and executed.
    cur.execute(
        "SELECT count(*) FROM ae_attendances WHERE trust <> %s "
        "AND CAST(arrival_time AS DATE) >= %s AND length(attendance_id) > %s",
        ("NOPE", datetime.date(2000, 1, 1), 0),
    )
    out["count_bound"] = cur.fetchone()[0]
    cur.execute("SELECT %s::int + 1 AS n, %s::date AS d, %s AS t", (41, datetime.date(2026, 10, 31), "x"))
    n, d, t = cur.fetchone()
    out["types"] = [n, d.isoformat(), t]
    cur.execute("SELECT count(*) FROM ae_attendances", prepare=True)
    cur.execute("SELECT count(*) FROM ae_attendances", prepare=True)
    out["count_prepared"] = cur.fetchone()[0]
    # A server-side cursor streaming 100k rows, 5,000 at a time.
    with conn.transaction():
        with conn.cursor(name="big") as c:
            c.itersize = 5000
            c.execute("SELECT value FROM generate_series(1, 100000)")
            rows = total = 0
            for (v,) in c:
                rows += 1
                total += v
    out["cursor_rows"] = rows
    out["cursor_sum"] = total
    # A long query cancelled from another thread; the connection goes on.
    threading.Timer(2.0, conn.cancel).start()
    t0 = time.time()
    try:
        cur.execute("SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b")
        out["cancelled"] = "not cancelled"
    except psycopg.errors.QueryCanceled as e:
        # The cancel (user request), not the time limit (the same code).
        out["cancelled"] = e.sqlstate if "user request" in str(e) else str(e)
    out["cancel_seconds"] = round(time.time() - t0, 1)
    cur.execute("SELECT 1")
    out["after_cancel"] = cur.fetchone()[0]
    # Refusals keep the connection.
    for name, q in [("ddl", "CREATE TABLE x (a int)"), ("copy", "COPY ae_attendances TO STDOUT"),
                    ("set", "SET datafusion.execution.batch_size = 1")]:
        try:
            cur.execute(q)
            out[name] = "allowed"
        except psycopg.Error as e:
            out[name] = e.sqlstate
    # A wrong password.
try:
    psycopg.connect(f"host={host} port={port} user={user} password=wrong dbname=icsw").close()
    out["wrong_password"] = "allowed"
except psycopg.OperationalError as e:
    out["wrong_password"] = "refused" if "password authentication failed" in str(e) else str(e)
print(json.dumps(out))
