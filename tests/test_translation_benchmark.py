"""benchmarks/translation.py: its rows, score lookup and tables, on made-up records."""
import pytest


def _record(row, scores):
    return {"row": row, "label": row, "overrides": ["game.x=1"], "steps": 10, "cpu_seconds": 90.0, "n": 5,
            "scores": scores}


def test_rows_and_score_lookup(benchmark_module):
    bench = benchmark_module("translation")
    assert bench.parse_rows("all") == list(bench.ROWS)
    assert set(bench.DEFAULT_ROWS) <= set(bench.ROWS)
    with pytest.raises(SystemExit, match="unknown row"):
        bench.parse_rows("fonts-gan,nope")
    for row in bench.ROWS.values():  # every row names a shipped preset and a task with columns and metrics
        from gankit.config import preset_names

        assert row.preset in preset_names() and row.task in bench.COLUMNS and row.task in bench.METRICS
    scores = {"BtoA/class_acc[classifier:mnist]": 0.917, "BtoA/class_acc_inputs[classifier:mnist]": 0.913}
    assert bench.score(scores, "BtoA/class_acc") == 0.917  # not the _inputs score, not another view's
    assert bench.score(scores, "AtoB/class_acc") is None


def test_tables_show_each_score_where_its_column_says(benchmark_module):
    bench = benchmark_module("translation")
    rec = _record("fonts-gan+cycle", {"BtoA/class_acc[classifier:mnist]": 0.917,
                                      "BtoA/class_acc_inputs[classifier:mnist]": 0.913,
                                      "AtoB/cycle_l1[pixels]": 0.0337, "BtoA/cycle_l1[pixels]": 0.033,
                                      "BtoA/fid[classifier:mnist]": 4.72})
    lines = bench.table("mnist2fonts", [rec])
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert len(head) == len(cells) and len(lines) == 3
    col = dict(zip(head, cells))
    assert col["fonts→MNIST acc"] == "91.7%" and col["untranslated"] == "91.3%"
    assert col["FID →MNIST"] == "4.72" and col["FID →fonts"] == "–"  # a missing score is a dash
    assert col["cycle L1 (A, B)"] == "0.034 / 0.033" and col["CPU min (train)"] == "1.5"
    assert col["settings"] == "`game.x=1`"
