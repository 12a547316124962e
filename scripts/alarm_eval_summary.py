"""Tabulate ``scripts/alarm_eval.py`` results and pick a configuration by a rule fixed in advance.

The rule (the default is chosen on province A only): among every row of the given results, the
highest share of defaulters warned orange or red ≥ 90 days ahead whose orange+red workload stays
within ``--budget`` firms per 1,000 borrowers per month; ties go to the lower workload, then to
the more precise red.

With ``--target 0.70 --cap 45`` (session 7, fixed before its results): the issue's target comes
first. Among rows that warn at least ``--target`` of the defaulters ≥ 90 days ahead within
``--cap`` firms per 1,000 per month, the lowest workload wins (ties: the higher share, then the
more precise red); when no row reaches the target, the ``--budget`` rule above decides.

    .venv/bin/python scripts/alarm_eval_summary.py /tmp/alarm-eval20k/results/A_*.json --budget 18
    .venv/bin/python scripts/alarm_eval_summary.py A_*.json --target 0.70 --cap 45 --budget 18
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def rows(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for row in data.get("sweep", [data]):
        out.append(
            {
                "file": path.stem,
                "pd": data.get("pd", row.get("pd", "")),
                "orange_share": row.get("orange_share"),
                "pd_orange_share": row.get("pd_orange_share"),
                "warned": row["warned_orange_red_90d"],
                "defaulters": row["defaulters"],
                "share": row["share_warned_90d"],
                "workload": row["orange_red_per_1000_month"],
                "lead": row["median_lead_days"],
                "red": f"{row['red_defaulted_within_180d']} / {row['red_firms']}",
                "red_precision": row["red_precision"],
            }
        )
    return out


def choose(
    table: list[dict], budget: float, target: float | None = None, cap: float = 45.0
) -> dict | None:
    reaching = [
        r for r in table if target is not None and r["share"] >= target and r["workload"] <= cap
    ]
    if reaching:
        return min(reaching, key=lambda r: (r["workload"], -r["share"], -r["red_precision"]))
    within = [r for r in table if r["workload"] <= budget]
    if not within:
        return None
    return max(within, key=lambda r: (r["share"], -r["workload"], r["red_precision"]))


def markdown(table: list[dict]) -> str:
    lines = [
        "| results | score orange share | PD orange share | ≥ 90 days | orange+red per 1,000/month"
        " | median lead | red precision |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table:
        lines.append(
            f"| {r['file']} | {r['orange_share']} | {r['pd_orange_share'] or '—'} | "
            f"{r['warned']} / {r['defaulters']} ({r['share']:.0%}) | {r['workload']:.1f} | "
            f"{r['lead']} | {r['red']} ({r['red_precision']:.0%}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--budget", type=float, default=18.0)
    parser.add_argument("--target", type=float, default=None, help="e.g. 0.70: the target first")
    parser.add_argument("--cap", type=float, default=45.0, help="the target's workload cap")
    args = parser.parse_args()
    table = [r for path in args.results if path.stat().st_size for r in rows(path)]
    print(markdown(table))
    chosen = choose(table, args.budget, args.target, args.cap)
    rule = (
        f"≥ {args.target:.0%} within {args.cap} per 1,000/month at the lowest workload, else "
        if args.target is not None
        else ""
    ) + f"the most within {args.budget} per 1,000/month"
    print(f"\nchosen ({rule}):", json.dumps(chosen, ensure_ascii=False))


if __name__ == "__main__":
    main()
