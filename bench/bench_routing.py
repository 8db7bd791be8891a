"""Route planning benchmark: realistic days for a team, solved with PyVRP in the given time
and in ten times that, printing solve time, travel, visits planned and the gap.

    python bench/bench_routing.py [--time-limit 3] [--seed 1]

Instances are households clustered in a town's estates around Helsingør; workers mostly on
bikes (one on foot, one by car), 8:00–15:30, a fifth of them speaking Arabic; a tenth of the
candidates have a deadline within the week (mandatory), a tenth need an interpreter.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldapp.config import Config  # noqa: E402
from fieldapp.services.routing import (  # noqa: E402
    MANDATORY_PRIZE,
    Candidate,
    WorkerDay,
    solve_day,
)

OFFICE = (56.0361, 12.6136)
INSTANCES = [(3, 50), (5, 120), (8, 200), (10, 300)]
SETTINGS = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}


def instance(workers: int, candidates: int, seed: int):
    rng = random.Random(seed * 1000 + workers * 7 + candidates)
    estates = [(OFFICE[0] + rng.uniform(-0.03, 0.03), OFFICE[1] + rng.uniform(-0.06, 0.02))]
    estates += [(OFFICE[0] + rng.uniform(-0.03, 0.03), OFFICE[1] + rng.uniform(-0.06, 0.02))]
    estates += [(OFFICE[0] + rng.uniform(-0.04, 0.04), OFFICE[1] + rng.uniform(-0.07, 0.03))]
    team = []
    for n in range(workers):
        mode = "walk" if n == 0 else "car" if n == 1 else "bike"
        team.append(
            WorkerDay(
                user_id=n + 1,
                email=f"worker{n + 1}@example.org",
                mode=mode,
                start=OFFICE,
                end=OFFICE,
                shift_start=8 * 3600,
                shift_end=15 * 3600 + 1800,
                languages=frozenset({"da", "en", "ar"} if n % 5 == 2 else {"da", "en"}),
            )
        )
    cases = []
    for n in range(candidates):
        centre = rng.choice(estates)
        interpreter = rng.random() < 0.1
        cases.append(
            Candidate(
                case_id=n + 1,
                priority=rng.randint(10, 90),
                mandatory=rng.random() < 0.1,
                lat=centre[0] + rng.gauss(0, 0.006),
                lon=centre[1] + rng.gauss(0, 0.01),
                language="ar" if interpreter else "da",
                needs_interpreter=interpreter,
            )
        )
    return team, cases


def value(routes, cases) -> tuple[int, int, float, float]:
    """Visits, mandatory visits, travel km, and the plan's net value (prizes − duration, s)."""
    by_id = {c.case_id: c for c in cases}
    per_point = SETTINGS["ROUTING_PRIZE_SECONDS_PER_POINT"]
    service = SETTINGS["ROUTING_SERVICE_MINUTES"] * 60
    visits = mandatory = 0
    net = 0.0
    for route in routes:
        if route.stops:
            net -= (route.ends_at - route.starts_at).total_seconds()
        for stop in route.stops:
            case = by_id[stop.case_id]
            visits += 1
            mandatory += case.mandatory
            # Mandatory visits count at an ordinary visit's worth here, so the gap measures
            # the routing and not the constant that makes them mandatory.
            net += (case.priority + 10) * per_point + service
    assert MANDATORY_PRIZE > 86_400
    return visits, mandatory, sum(r.travel_km for r in routes), net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"{'workers':>7} {'cands':>5} {'mand':>4} | {'time s':>6} {'km':>6} {'visits':>6} "
        f"{'mand':>4} | {'10x s':>6} {'km':>6} {'visits':>6} | {'gap %':>6}"
    )
    for workers, candidates in INSTANCES:
        team, cases = instance(workers, candidates, args.seed)
        results = []
        for limit in (args.time_limit, args.time_limit * 10):
            routes, _, seconds = solve_day(
                date(2026, 11, 24),
                "Europe/Copenhagen",
                team,
                cases,
                SETTINGS,
                limit,
                SETTINGS["ROUTING_SERVICE_MINUTES"],
                seed=args.seed,
            )
            results.append((seconds, *value(routes, cases)))
        (t1, v1, m1, km1, net1), (t2, v2, _, km2, net2) = results
        gap = 100 * (net2 - net1) / abs(net2) if net2 else 0.0
        print(
            f"{workers:>7} {candidates:>5} {sum(c.mandatory for c in cases):>4} | "
            f"{t1:>6.1f} {km1:>6.1f} {v1:>6} {m1:>4} | {t2:>6.1f} {km2:>6.1f} {v2:>6} | "
            f"{gap:>6.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
