"""How long the server takes to answer a drag-and-drop move on the lead's route page: the
demo planned for tomorrow, one worker's draft topped up to 20 visits, then moves posted as the
page's script posts them (htmx, the map and lanes answered again, recomputed), within that lane
and across lanes. Prints the median, 95th percentile and slowest answer.

    python bench/bench_route_moves.py [--moves 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from fieldapp import create_app  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import Route  # noqa: E402
from fieldapp.services.demo import seed_demo  # noqa: E402
from tests.support import AuthActions, csrf_from  # noqa: E402

DAY = date.today() + timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=60)
    args = parser.parse_args()
    from flask_migrate import upgrade

    folder = Path(tempfile.mkdtemp(prefix="bench-moves-"))
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "SECRET_KEY": "bench",
            "VAPID_PRIVATE_KEY": str(folder / "vapid.pem"),
            "ROUTING_TIME_LIMIT_SECONDS": 2,
            "CHECK_SCHEMA": False,
            "COOKIE_SECURE": False,
        }
    )
    with app.app_context():
        upgrade()
        seed_demo(db.session, "demo")
        db.session.commit()
    client = app.test_client()
    auth = AuthActions(client)
    auth.login("lead@example.org", "demo")
    page = f"/routes?day={DAY.isoformat()}"
    auth.post("/routes/plan", {"day": DAY.isoformat()}, page=page)

    def lanes():
        with app.app_context():
            routes = db.session.scalars(select(Route).where(Route.state == "draft")).all()
            return {r.worker_id: [s.id for s in r.stops] for r in routes}

    token = csrf_from(client.get(page).get_data(as_text=True))

    def move(stop_id: int, worker: int, position: int) -> float:
        fields = {"day": DAY.isoformat(), "worker": str(worker), "position": str(position)}
        started = time.perf_counter()
        response = client.post(
            f"/routes/stops/{stop_id}/move",
            data={**fields, "csrf_token": token},
            headers={"HX-Request": "true"},
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 200 and b"Visit moved" in response.data
        return elapsed

    # Top one worker's lane up to 20 visits (moves themselves, not timed).
    current = lanes()
    big = max(current, key=lambda w: len(current[w]))
    for worker, stops in current.items():
        while worker != big and stops and len(lanes()[big]) < 20:
            move(stops.pop(), big, 1)
    current = lanes()
    print(f"lanes: {sorted(len(s) for s in current.values())}; the big one has {len(current[big])}")
    other = next(w for w in current if w != big)

    within, across = [], []
    for n in range(args.moves):
        stops = lanes()
        if n % 2 == 0:
            within.append(move(stops[big][-1], big, 1))
        else:
            # Out to another lane and back, so the big lane stays at its size.
            across.append(move(stops[big][0], other, 1))
            across.append(move(lanes()[other][0], big, 1))
    for label, times in (("within the lane", within), ("across lanes", across)):
        ms = sorted(t * 1000 for t in times)
        p95 = ms[int(0.95 * (len(ms) - 1))]
        print(
            f"move {label:<15}: {len(ms)} answers, median {statistics.median(ms):.0f} ms, "
            f"p95 {p95:.0f} ms, slowest {ms[-1]:.0f} ms (request to full answer, in process)"
        )


if __name__ == "__main__":
    main()
