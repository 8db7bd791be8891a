"""Route planning benchmark: realistic days for a team, solved with PyVRP in the given time
and in ten times that, and with VROOM (pyvroom) on the same travel-time matrices, printing solve
time, travel, visits planned, mandatory visits planned, the plan's net value and the gap
to PyVRP's ten-times-longer run.

    pip install -e ".[bench]"     # pyvroom, for the comparison (PyVRP alone without it)
    python bench/bench_routing.py [--time-limit 3] [--seed 1] [--vroom-level 5] [--no-vroom]

Instances are households clustered in a town's estates around Helsingør; workers mostly on
bikes (one on foot, one by car), 8:00–15:30, a fifth of them speaking Arabic; a tenth of the
candidates have a deadline within the week (mandatory), a tenth need an interpreter.
"""

from __future__ import annotations

import argparse
import random
import sys
import time as clock
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldapp.config import Config  # noqa: E402
from fieldapp.services.routing import (  # noqa: E402
    MANDATORY_PRIZE,
    Booking,
    Candidate,
    PlannedRoute,
    PlannedStop,
    WorkerDay,
    _travel_matrices,
    solve_day,
)

OFFICE = (56.0361, 12.6136)
INSTANCES = [(3, 50), (5, 120), (8, 200), (10, 300)]
DAY = date(2026, 11, 24)
ZONE = "Europe/Copenhagen"
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


def solve_vroom(team, cases, level: int, threads: int, timeout: float | None = None):
    """The same day with VROOM: routes (as PyVRP's are reported), wall time.

    Same locations and travel-time matrices as `solve_day` (durations in seconds, one profile
    per travel mode), each worker a vehicle with their shift as time window and start/end
    point, the interpreter rule as skills, the service time per job. VROOM has no prizes and no
    hard "mandatory": its objective is lexicographic (largest sum of priorities, then most
    jobs, then least cost), so optional cases get their register priority (0–99) and
    mandatory ones 100; those it leaves out are counted by the caller.
    """
    import vroom

    service = SETTINGS["ROUTING_SERVICE_MINUTES"] * 60
    depots = sorted({p for w in team for p in (w.start, w.end)})
    points = depots + [(c.lat, c.lon) for c in cases]
    matrices = _travel_matrices(SETTINGS, points, {w.mode for w in team})
    languages = sorted({lang for w in team for lang in w.languages} | {c.language for c in cases})
    skill = {lang: n + 1 for n, lang in enumerate(languages)}
    problem = vroom.Input()
    for mode, (distances, durations) in matrices.items():
        problem.set_durations_matrix(profile=mode, matrix_input=durations.astype("uint32"))
        problem.set_distances_matrix(profile=mode, matrix_input=distances.astype("uint32"))
    for n, worker in enumerate(team):
        problem.add_vehicle(
            vroom.Vehicle(
                id=n,
                start=depots.index(worker.start),
                end=depots.index(worker.end),
                profile=worker.mode,
                skills={skill[lang] for lang in worker.languages},
                time_window=vroom.TimeWindow(worker.shift_start, worker.shift_end),
            )
        )
    for n, case in enumerate(cases):
        needs = {skill[case.language]} if case.needs_interpreter and case.language else set()
        problem.add_job(
            vroom.Job(
                id=n,
                location=len(depots) + n,
                default_service=service,
                skills=needs,
                priority=100 if case.mandatory else max(0, min(99, case.priority)),
            )
        )
    started = clock.perf_counter()
    limit = None if timeout is None else timedelta(seconds=timeout)
    solution = problem.solve(exploration_level=level, nb_threads=threads, timeout=limit)
    seconds = clock.perf_counter() - started

    midnight = datetime.combine(DAY, time(0), ZoneInfo(ZONE))
    routes = []
    frame = solution.routes
    for n, worker in enumerate(team):
        steps = frame[frame["vehicle_id"] == n]
        route = PlannedRoute(
            worker.user_id, worker.email, worker.mode, worker.start, worker.end, midnight, midnight
        )
        routes.append(route)
        if steps.empty:
            continue
        distances = matrices[worker.mode][0]
        metres, previous = 0, None
        for step in steps.itertuples():
            at = midnight + timedelta(seconds=int(step.arrival))
            if previous is not None:
                metres += int(distances[previous, step.location_index])
            previous = step.location_index
            if step.type == "start":
                route.starts_at = at
            elif step.type == "end":
                route.ends_at = at
            elif step.type == "job":
                case = cases[int(step.id)]
                arrive = at + timedelta(seconds=int(step.waiting_time))
                depart = arrive + timedelta(seconds=service)
                route.stops.append(
                    PlannedStop(case.case_id, case.lat, case.lon, arrive, depart, case.mandatory)
                )
        route.travel_km = round(metres / 1000, 2)
    return routes, seconds


def booked_day(limit: float, seed: int) -> None:
    """10 workers × 300 candidates with 20 visits locked to a worker and 30 with a time agreed
    with the tenant: the whole plan's wall time (matrices included), its net value against a
    ten-times-longer run, and whether every lock and window held; then the visits per worker
    without and with balance."""
    team, cases = instance(10, 300, seed)
    rng = random.Random(seed)
    plain = [c for c in cases if not c.needs_interpreter]
    rng.shuffle(plain)
    locks = {c.case_id: team[rng.randrange(len(team))].user_id for c in plain[:20]}
    windows = {}
    for c in plain[20:50]:
        start = rng.choice(range(9 * 3600, 14 * 3600 + 1, 1800))
        windows[c.case_id] = (start, start + rng.choice((3600, 7200)))
    for c in cases:
        if c.case_id in locks or c.case_id in windows:
            c.booking = Booking(
                c.case_id, locks.get(c.case_id), c.case_id in locks, windows.get(c.case_id)
            )
    midnight = datetime.combine(DAY, time(0), ZoneInfo(ZONE))
    print(f"booked day: 10 workers, 300 candidates, {len(locks)} locks, {len(windows)} windows")
    print(f"{'run':<10} | {'wall s':>6} {'solve s':>7} {'visits':>6} {'net h':>6} | "
          f"{'gap %':>6} | locks held, windows held, bookings reported")  # fmt: skip
    results = []
    for label, seconds in (("pyvrp", limit), ("pyvrp 10x", limit * 10)):
        started = clock.perf_counter()
        routes, unassigned, solve, _ = solve_day(
            DAY, ZONE, team, cases, SETTINGS, seconds, SETTINGS["ROUTING_SERVICE_MINUTES"],
            seed=seed,
        )  # fmt: skip
        wall = clock.perf_counter() - started
        visits, _, _, net = value(routes, cases)
        where = {s.case_id: (r.worker_id, s) for r in routes for s in r.stops}
        locks_held = sum(where.get(case, (None,))[0] == worker for case, worker in locks.items())
        windows_held = 0
        for case, (early, late) in windows.items():
            if case in where:
                arrive = (where[case][1].arrive - midnight).total_seconds()
                windows_held += early <= arrive <= late
        reported = sum(u.booked for u in unassigned)
        results.append(net)
        gap = 100 * (results[-1] - results[0]) / abs(results[-1]) if len(results) == 2 else 0
        print(
            f"{label:<10} | {wall:>6.2f} {solve:>7.2f} {visits:>6} {net / 3600:>6.1f} | "
            f"{gap:>6.2f} | {locks_held}/{len(locks)}, {windows_held}/{len(windows)}, "
            f"{reported} not met (each with its reason)",
            flush=True,
        )
    for balance in (False, True):
        routes, _, _, limits = solve_day(
            DAY, ZONE, team, cases, SETTINGS, limit, SETTINGS["ROUTING_SERVICE_MINUTES"],
            seed=seed, balance=balance,
        )  # fmt: skip
        counts = sorted(len(r.stops) for r in routes)
        said = f"at most {max(limits.values())} optional visits each" if limits else "no cap"
        print(f"visits per worker, {'balanced' if balance else 'free':<8}: {counts} ({said})")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--vroom-level", type=int, default=5, help="exploration level 1-5")
    parser.add_argument("--threads", type=int, default=2, help="VROOM's threads (2 cores here)")
    parser.add_argument("--no-vroom", action="store_true", help="PyVRP only")
    parser.add_argument(
        "--booked-limit", type=float, default=4.0, help="solver seconds for the booked day"
    )
    parser.add_argument("--only-booked", action="store_true", help="only the booked day")
    args = parser.parse_args()
    booked_day(args.booked_limit, args.seed)
    if args.only_booked:
        return
    if not args.no_vroom:
        try:
            import vroom  # noqa: F401
        except ImportError:
            print('pyvroom is not installed (pip install -e ".[bench]"): PyVRP only')
            args.no_vroom = True
    print(
        f"{'workers':>7} {'cands':>5} {'mand':>4} {'solver':<10} | {'time s':>6} {'km':>6} "
        f"{'visits':>6} {'mand':>4} {'net h':>6} | {'gap %':>6}"
    )
    for workers, candidates in INSTANCES:
        team, cases = instance(workers, candidates, args.seed)
        total_mandatory = sum(c.mandatory for c in cases)
        head = f"{workers:>7} {candidates:>5} {total_mandatory:>4}"
        results = []
        for limit in (args.time_limit, args.time_limit * 10):
            routes, _, seconds, _ = solve_day(
                DAY,
                ZONE,
                team,
                cases,
                SETTINGS,
                limit,
                SETTINGS["ROUTING_SERVICE_MINUTES"],
                seed=args.seed,
            )
            results.append((seconds, *value(routes, cases)))
        (t1, v1, m1, km1, net1), (t2, v2, m2, km2, net2) = results
        gap = 100 * (net2 - net1) / abs(net2) if net2 else 0.0
        print(
            f"{head} {'pyvrp':<10} | {t1:>6.1f} {km1:>6.1f} {v1:>6} {m1:>4} {net1 / 3600:>6.1f} | "
            f"{gap:>6.2f}",
            flush=True,
        )
        print(
            f"{head} {'pyvrp 10x':<10} | {t2:>6.1f} {km2:>6.1f} {v2:>6} {m2:>4} "
            f"{net2 / 3600:>6.1f} |",
            flush=True,
        )
        if not args.no_vroom:
            # At PyVRP's time limit, and without a limit (VROOM's own stopping rule); the gap
            # is to PyVRP's ten-times-longer run, in the same net value.
            for label, timeout in (("vroom", args.time_limit), ("vroom full", None)):
                routes, seconds = solve_vroom(team, cases, args.vroom_level, args.threads, timeout)
                visits, mandatory, km, net = value(routes, cases)
                print(
                    f"{head} {label:<10} | {seconds:>6.1f} {km:>6.1f} {visits:>6} "
                    f"{mandatory:>4} {net / 3600:>6.1f} | {100 * (net2 - net) / abs(net2):>6.2f}  "
                    f"{total_mandatory - mandatory} mandatory left out",
                    flush=True,
                )


if __name__ == "__main__":
    main()
