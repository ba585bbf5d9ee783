#!/usr/bin/env python3
"""Expected SPC tables for NHSRplotthedots' documented examples, rebuilt
from ae_attendances.csv (NHSRdatasets, in ../ae_attendances.csv).

An independent implementation: a line-by-line transliteration of
NHSRplotthedots 0.2.0's R (github.com/nhs-r-community/NHSRplotthedots,
commit 050b07d: R/ptd_spc_standard.R, R/ptd_calculate_point_type.R,
R/ptd_calculate_assurance_type.R, summary.ptd_spc_df), written from the R
and not from icsw's Rust. Where icsw deliberately differs from the R, the
difference is marked DEVIATION and is the one README.md (SPC) documents:

- trial limits (short_group_warning) for a group of fewer than 12 points,
  as the spec, the issue and NHSRplotthedots' own warning text say (its code
  defaults the threshold to 13);
- a group whose mean moving range is 0 (a constant baseline) has no special
  cause (the R flags every later change as outside zero-width limits).

Run: python3 ptd.py  (writes <example>.points.csv and <example>.summary.csv
here). Example 1 reproduces the figures NHSRplotthedots' README publishes
(mean 1545.1667, limits 740.3958 and 2349.9376; May 2016 special cause
improvement by the 2-of-3 rule), which the Rust tests also check directly.
"""
import csv
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT = 2.66
LIMIT_CLOSE = 2 * (LIMIT / 3)
TRIAL_BELOW = 12  # DEVIATION (see above)

POINT_COLUMNS = ["y", "x", "f", "trajectory", "rebase_group", "short_group_warning", "fix_y",
                 "mean_col", "lpl", "upl", "outside_limits", "relative_to_mean",
                 "close_to_limits", "special_cause_type", "special_cause_flag", "point_type",
                 "target"]
SUMMARY_COLUMNS = ["f", "rebase_group", "mean_col", "lpl", "upl", "n", "common_cause",
                   "special_cause_improvement", "special_cause_concern",
                   "special_cause_neutral_high", "special_cause_neutral_low",
                   "variation_type", "assurance_type", "trial_limits"]


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else float("nan")


def sign(v):
    return (v > 0) - (v < 0)


# --- ptd_calculate_point_type.R -------------------------------------------
def seven_point_one_side_mean(v):
    vp = [0] * 6 + v
    return [1 if all(vp[i] == vp[i - k] for k in range(1, 7)) and vp[i] != 0 else 0
            for i in range(6, len(vp))]


def part_of_seven_trend(v):
    vp = v + [0] * 6
    return [1 if any(abs(vp[i + k]) == 1 for k in range(7)) else 0 for i in range(len(v))]


def seven_point_trend(y):
    if len(y) < 7:
        return [0] * len(y)
    out = [0] * 6
    for i in range(6, len(y)):
        d = [sign(y[i - k] - y[i - k - 1]) for k in range(6)]
        out.append(1 if all(s == 1 for s in d) else -1 if all(s == -1 for s in d) else 0)
    return out


def two_in_three(v, rtm):
    vp = [0, 0] + v + [0, 0]
    rp = [0, 0] + rtm + [0, 0]

    def w(a):
        return sum(vp[a:a + 3]) >= 2 and abs(sum(rp[a:a + 3])) == 3
    return [1 if (w(i) or w(i + 1) or w(i + 2)) else 0 for i in range(len(v))]


def special_cause_type(y, rtm, close, outside):
    trend = part_of_seven_trend(seven_point_trend(y))
    tw = [1 if a == 1 and b == 1 else 0 for a, b in zip(two_in_three(close, rtm), close)]
    shift = part_of_seven_trend(seven_point_one_side_mean(rtm))
    sdy = [sign(y[i + 1] - y[i]) for i in range(len(y) - 1)]
    n = len(y)
    right = sdy + sdy[-1:]
    left = [0] + sdy
    nxt = trend[1:] + [0]
    sdy = [right[i] if (nxt[i] and trend[i]) else left[i] for i in range(n)]
    out = []
    for i in range(n):
        side = "Above" if rtm[i] > 0 else "Below"
        if outside[i]:
            out.append("Above UCL" if rtm[i] == 1 else "Below LCL")
        elif trend[i]:
            out.append("7 Point Trend (%screasing)" % ("In" if sdy[i] == 1 else "De"))
        elif tw[i]:
            out.append("2 in 3 %s CL" % side)
        elif shift[i]:
            out.append("7 Points %s CL" % side)
        else:
            out.append("Common Cause")
    return out


def point_type(t, direction):
    v = 1 if ("Above" in t or "Increasing" in t) else -1 if ("Below" in t or "Decreasing" in t) else 0
    if direction == 0:
        return "special_cause_neutral_high" if v > 0 else "special_cause_neutral_low" if v < 0 else "common_cause"
    v *= direction
    return "special_cause_improvement" if v > 0 else "special_cause_concern" if v < 0 else "common_cause"


# --- ptd_spc_standard.R and ptd_spc.R -------------------------------------
def ptd_spc(rows, direction, fix_after=None, rebase=(), target=None, screen=True):
    """rows: (facet, x, y) with x an ISO date. Returns (points, summary)."""
    points, summary = [], []
    for f in sorted({r[0] for r in rows}):
        data = sorted([r for r in rows if r[0] == f], key=lambda r: r[1])
        group, groups = 0, []
        for r in data:
            group += 1 if r[1] in rebase else 0
            groups.append(group)
        for g in sorted(set(groups)):
            seg = [r for r, gg in zip(data, groups) if gg == g]
            y = [r[2] for r in seg]
            fix_y = [v if fix_after is None or i < fix_after else None for i, v in enumerate(y)]
            m = mean(fix_y)
            mr = [None] + [abs(b - a) if a is not None and b is not None else None
                           for a, b in zip(fix_y, fix_y[1:])]
            amr = mean(mr)
            if screen:
                mr = [x if x is not None and x < 3.267 * amr else None for x in mr]
                amr = mean(mr)
            lpl, upl = m - LIMIT * amr, m + LIMIT * amr
            nlpl, nupl = m - LIMIT_CLOSE * amr, m + LIMIT_CLOSE * amr
            outside = [v > upl or v < lpl for v in y]
            rtm = [sign(v - m) for v in y]
            close = [1 if (not o and (v < nlpl or v > nupl)) else 0 for v, o in zip(y, outside)]
            if amr == 0:  # DEVIATION (see above)
                types = ["Common Cause"] * len(y)
                outside = [False] * len(y)
                close = [0] * len(y)
            else:
                types = special_cause_type(y, rtm, close, outside)
            short = len(y) < TRIAL_BELOW
            pts = []
            for i, r in enumerate(seg):
                pts.append({
                    "y": y[i], "x": r[1], "f": f, "trajectory": None, "rebase_group": g,
                    "short_group_warning": short, "fix_y": fix_y[i], "mean_col": m,
                    "lpl": lpl, "upl": upl, "outside_limits": outside[i],
                    "relative_to_mean": rtm[i], "close_to_limits": bool(close[i]),
                    "special_cause_type": types[i],
                    "special_cause_flag": types[i] != "Common Cause",
                    "point_type": point_type(types[i], direction), "target": target,
                })
            points += pts
            last = pts[-1]
            assurance = None
            if target is not None and direction != 0 and g == max(groups):
                if target > upl:
                    assurance = "consistent_fail" if direction == 1 else "consistent_pass"
                elif target < lpl:
                    assurance = "consistent_pass" if direction == 1 else "consistent_fail"
                else:
                    assurance = "inconsistent"
            count = lambda t: sum(1 for p in pts if p["point_type"] == t)
            summary.append({
                "f": f, "rebase_group": g, "mean_col": m, "lpl": lpl, "upl": upl, "n": len(pts),
                "common_cause": len(pts) - sum(p["special_cause_flag"] for p in pts),
                "special_cause_improvement": count("special_cause_improvement"),
                "special_cause_concern": count("special_cause_concern"),
                "special_cause_neutral_high": count("special_cause_neutral_high"),
                "special_cause_neutral_low": count("special_cause_neutral_low"),
                "variation_type": last["point_type"], "assurance_type": assurance,
                "trial_limits": short,
            })
    return points, summary


def cell(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    return repr(v) if isinstance(v, float) else str(v)


def write(name, columns, rows):
    with open(os.path.join(HERE, name), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([cell(r[c]) for c in columns])


def main():
    with open(os.path.join(HERE, "..", "ae_attendances.csv")) as f:
        ae = [dict(r, attendances=int(r["attendances"]), breaches=int(r["breaches"]))
              for r in csv.DictReader(f)]
    type1 = [r for r in ae if r["type"] == "1"]
    before = lambda r: r["period"] < "2018-04-01"
    rqm = [("no facet", r["period"], float(r["breaches"])) for r in type1
           if r["org_code"] == "RQM" and before(r)]
    england = {}
    for r in ae:
        a, b = england.get(r["period"], (0, 0))
        england[r["period"]] = (a + r["attendances"], b + r["breaches"])
    examples = {
        # The README example: RQM, type 1 breaches, April 2016 - March 2018.
        "readme": (rqm, -1, {}),
        # England 4-hour performance (every trust and type), 95% target.
        "england_4h_target": ([("no facet", p, 1 - b / a) for p, (a, b) in england.items()],
                              1, {"target": 0.95}),
        # RQM's type 1 breaches, every month, limits fixed after 12 points.
        "fix_after_12": ([("no facet", r["period"], float(r["breaches"])) for r in type1
                          if r["org_code"] == "RQM"], -1, {"fix_after": 12}),
        # RRK's type 1 breaches (a merger in 2018), rebased at April 2018.
        "rebase_2018_04": ([("no facet", r["period"], float(r["breaches"])) for r in type1
                            if r["org_code"] == "RRK"], -1, {"rebase": ("2018-04-01",)}),
        # The vignette's six trusts, one chart each.
        "facets": ([(r["org_code"], r["period"], float(r["breaches"])) for r in type1
                    if r["org_code"] in ("RRK", "RJC", "RJ7", "R1K", "R1H", "RQM") and before(r)],
                   -1, {}),
        # The README example without outlier screening.
        "no_screen": (rqm, -1, {"screen": False}),
        # A measure with no direction: RQM's type 1 attendances.
        "neutral": ([("no facet", r["period"], float(r["attendances"])) for r in type1
                     if r["org_code"] == "RQM" and before(r)], 0, {}),
    }
    for name, (rows, direction, opts) in examples.items():
        points, summary = ptd_spc(rows, direction, **opts)
        write(name + ".points.csv", POINT_COLUMNS, points)
        write(name + ".summary.csv", SUMMARY_COLUMNS, summary)
    print("wrote", len(examples), "examples")


if __name__ == "__main__":
    main()
