"""gates_share: gate time ÷ build time of the same lake day, from the ledger's step timings."""

from __future__ import annotations

from benchmarks import harness

NAME = "gates_share"


def main() -> None:
    with harness.question(NAME):
        _, dt = harness.main_place(NAME)
        _, reports = harness.side_by_side({"daily": lambda: harness.daily(dt)})
        gate, build, per_step = [], [], []
        for report in reports["daily"]:
            attempts = harness.attempts_of(dt, report.run_id)
            gate.append(round(sum(a.details.get("gate_seconds", 0.0) for a in attempts), 4))
            build.append(round(sum(a.details.get("build_seconds", 0.0) for a in attempts), 4))
            per_step.append(
                {
                    a.layer: {
                        "build_s": a.details.get("build_seconds"),
                        "gate_s": a.details.get("gate_seconds"),
                        "checks": (a.details.get("gate") or {}).get("checks"),
                    }
                    for a in attempts
                }
            )
        harness.record(
            NAME,
            gate,
            build,
            {
                "lake_day": dt.isoformat(),
                "events_per_day": harness.scaled(1_000_000),
                "source": "ledger details gate_seconds / build_seconds, summed over steps",
                "steps": per_step,
            },
        )


if __name__ == "__main__":
    main()
