"""The Flight SQL door as the ADBC Flight SQL driver sees it, into pandas
(run by tests/it/flight.rs).

Usage: adbc_door.py URI   (tokens in ICSW_ANALYST_TOKEN,
ICSW_ANALYST_RYJ_TOKEN and ICSW_MANAGER_TOKEN)
Prints one JSON object: what the Rust test compares with the HTTP door.
"""
import json
import os
import sys

import adbc_driver_flightsql.dbapi as flight_sql
import adbc_driver_manager

uri = sys.argv[1]


def connect(user, token):
    return flight_sql.connect(uri, db_kwargs={"username": user, "password": token})


out = {}
with connect("analyst", os.environ["ICSW_ANALYST_TOKEN"]) as conn:
    cur = conn.cursor()
    cur.execute("SELECT count(*) AS n FROM ae_attendances")
    df = cur.fetch_df()
    out["count"] = int(df["n"][0])
    # A bound parameter (a prepared statement, bound and executed).
    cur.execute("SELECT count(*) AS n FROM ae_attendances WHERE trust = $1", parameters=("RQM",))
    out["bound"] = int(cur.fetch_df()["n"][0])
    # The table browser: catalogs, schemas, tables and their columns.
    objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
    tables = []
    for catalog in objects:
        for schema in catalog["catalog_db_schemas"] or []:
            for table in schema["db_schema_tables"] or []:
                tables.append(table["table_name"])
    out["tables"] = tables
    cur.close()

with connect("analyst_ryj", os.environ["ICSW_ANALYST_RYJ_TOKEN"]) as conn:
    cur = conn.cursor()
    cur.execute("SELECT count(*) AS n FROM ae_attendances")
    out["count_ryj"] = int(cur.fetch_df()["n"][0])
    cur.execute("SELECT DISTINCT trust FROM ae_attendances")
    out["trusts_ryj"] = sorted(cur.fetch_df()["trust"].tolist())
    cur.close()


def refused(user, token):
    try:
        with connect(user, token) as conn:
            cur = conn.cursor()
            cur.execute("SELECT 1")
            cur.fetchall()
        return "answered"
    except adbc_driver_manager.Error as e:
        text = str(e)
        if "password authentication failed" in text or "may not sign in" in text:
            return "refused"
        return text


out["wrong_password"] = refused("analyst", "icsw_not_the_token")
out["manager"] = refused("manager", os.environ["ICSW_MANAGER_TOKEN"])
print(json.dumps(out))
