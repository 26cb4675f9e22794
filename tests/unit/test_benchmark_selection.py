"""`python -m benchmarks NAME ...` runs the questions named, in the usual order; a name that is
not a question is refused before anything runs."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import scripts_to_run


def test_named_questions_run_in_the_usual_order_and_no_names_run_them_all() -> None:
    everything = scripts_to_run([])
    assert everything[:2] == ["bench_pipeline_vs_plain_sql", "bench_orchestration_overhead"]
    assert len(everything) == len(set(everything)) >= 13
    named = scripts_to_run(["bench_publish_share", "bench_pipeline_vs_plain_sql"])
    assert named == ["bench_pipeline_vs_plain_sql", "bench_publish_share"]


def test_an_unknown_question_is_refused_with_the_known_ones_listed() -> None:
    with pytest.raises(ValueError, match=r"no such benchmark: bench_nope \(known: .*bench_landing"):
        scripts_to_run(["bench_landing", "bench_nope"])
