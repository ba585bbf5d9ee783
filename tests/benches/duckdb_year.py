"""DuckDB's side of `cargo bench -p icsw-tests --bench year -- cold`.

  duckdb_year.py ae WAREHOUSE PERIOD     the A&E return's figures for PERIOD
                                         (YYYY-MM) from the files the
                                         warehouse's newest version lists
  duckdb_year.py copy LANDING OUT        every landing Parquet file copied to
                                         Parquet under OUT (read and write,
                                         no checks)

Each prints its result, then `rows N` and `peak N MB` (its own maximum
resident memory), so the bench can compare the figures and the costs.
"""

import calendar
import glob
import json
import os
import resource
import sys

import duckdb


def peak_mb():
    # VmHWM, as the Rust side reads it: getrusage's maxrss can carry the
    # peak of the process that spawned this one.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def newest_version(warehouse):
    names = sorted(glob.glob(os.path.join(warehouse, "_versions", "v*.json")))
    with open(names[-1]) as f:
        return json.load(f)


def files(state, warehouse, feed):
    out = []
    for trust in state["trusts"].values():
        for f in trust.get("feeds", {}).get(feed, {}).get("files", []):
            out.append(os.path.join(warehouse, f["path"]))
    return out


def ae(warehouse, period):
    state = newest_version(warehouse)
    year, month = map(int, period.split("-"))
    first = f"{period}-01"
    last = f"{period}-{calendar.monthrange(year, month)[1]:02d}"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    att = files(state, warehouse, "ae_attendances")
    spells = files(state, warehouse, "inpatient_spells")
    # The returns spec's A&E measures, as sql/returns/ae.sql: whole minutes
    # from arrival to departure (to the extract's time when still there).
    query = f"""
    WITH a AS (
        SELECT trust,
               CASE department_type WHEN '01' THEN '1' WHEN '02' THEN '2' ELSE 'other' END AS t,
               booked_appointment AS booked, admitted,
               (epoch_us(COALESCE(departure_time, _extracted_at)) - epoch_us(arrival_time)) // 60000000 AS minutes,
               CASE WHEN admitted AND decision_to_admit_time IS NOT NULL AND departure_time IS NOT NULL
                    THEN (epoch_us(departure_time) - epoch_us(decision_to_admit_time)) // 60000000 END AS dta
        FROM read_parquet({att!r})
        WHERE activity_date BETWEEN DATE '{first}' AND DATE '{last}'
    ), ae AS (
        SELECT trust,
            count(*) FILTER (WHERE t = '1' AND NOT booked) AS "A&E attendances Type 1",
            count(*) FILTER (WHERE t = '2' AND NOT booked) AS "A&E attendances Type 2",
            count(*) FILTER (WHERE t = 'other' AND NOT booked) AS "A&E attendances Other A&E Department",
            count(*) FILTER (WHERE t = '1' AND booked) AS "A&E attendances Booked Appointments Type 1",
            count(*) FILTER (WHERE t = '2' AND booked) AS "A&E attendances Booked Appointments Type 2",
            count(*) FILTER (WHERE t = 'other' AND booked) AS "A&E attendances Booked Appointments Other Department",
            count(*) FILTER (WHERE t = '1' AND NOT booked AND minutes > 240) AS "Attendances over 4hrs Type 1",
            count(*) FILTER (WHERE t = '2' AND NOT booked AND minutes > 240) AS "Attendances over 4hrs Type 2",
            count(*) FILTER (WHERE t = 'other' AND NOT booked AND minutes > 240) AS "Attendances over 4hrs Other Department",
            count(*) FILTER (WHERE dta > 240 AND dta <= 720) AS "Patients who have waited 4-12 hs from DTA to admission",
            count(*) FILTER (WHERE dta > 720) AS "Patients who have waited 12+ hrs from DTA to admission",
            count(*) FILTER (WHERE t = '1' AND admitted) AS "Emergency admissions via A&E - Type 1",
            count(*) FILTER (WHERE t = '2' AND admitted) AS "Emergency admissions via A&E - Type 2",
            count(*) FILTER (WHERE t = 'other' AND admitted) AS "Emergency admissions via A&E - Other A&E department"
        FROM a GROUP BY trust
    ), ip AS (
        SELECT trust, count(*) FILTER (WHERE admission_method IN
            ('22','23','24','25','28','2A','2B','2C','2D')) AS "Other emergency admissions"
        FROM read_parquet({spells!r})
        WHERE activity_date BETWEEN DATE '{first}' AND DATE '{last}'
        GROUP BY trust
    )
    SELECT ae.trust AS "Org Code", ae.* EXCLUDE (trust), ip."Other emergency admissions"
    FROM ae JOIN ip USING (trust) ORDER BY 1
    """
    rel = con.execute(query)
    header = [d[0] for d in rel.description]
    rows = rel.fetchall()
    print(json.dumps({"header": header, "rows": [list(r) for r in rows]}))
    print(f"rows {len(rows)}")


def copy(landing, out):
    con = duckdb.connect()
    os.makedirs(out, exist_ok=True)
    total = 0
    for i, f in enumerate(sorted(glob.glob(os.path.join(landing, "**", "*.parquet"), recursive=True))):
        target = os.path.join(out, f"{i}.parquet")
        total += con.execute(
            f"COPY (SELECT * FROM read_parquet('{f}')) TO '{target}' (FORMAT parquet)"
        ).fetchone()[0]
    print(f"rows {total}")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "ae":
        ae(sys.argv[2], sys.argv[3])
    elif what == "copy":
        copy(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"no measure {what}")
    print(f"peak {peak_mb():.0f} MB")
