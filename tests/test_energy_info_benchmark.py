"""benchmarks/energy_info.py: its statistics, the DCGAN row it cites and its report, on made-up records."""
import argparse
from pathlib import Path

import pytest


def test_spearman_and_the_shown_command(benchmark_module):
    bench = benchmark_module("energy_info")
    assert bench.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert bench.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert bench.spearman([1, 2], [1, 2]) != bench.spearman([1, 2], [1, 2])  # NaN under 3 points
    assert bench._shown(["--only", "began", "--out", "/home/x/runs", "--results=/r", "--seeds", "2"]) == \
        ["--only", "began", "--seeds", "2"]


def test_dcgan_row_is_read_from_the_objectives_table(benchmark_module):
    bench = benchmark_module("energy_info")
    row = bench.dcgan_row(Path(__file__).resolve().parents[1] / "benchmarks" / "results")
    assert row is not None and float(row["fid"]) > 0 and 0 < float(row["precision"]) < 1 and row["classes"] == "10"


def test_report_tables_goal_and_figures(benchmark_module, tmp_path, monkeypatch):
    bench = benchmark_module("energy_info")
    monkeypatch.setattr(bench, "traversal_grids", lambda run, out, kind: [f"{kind}0.png", "t1.png", "cats.png"])
    (tmp_path / "out" / "ebgan-mnist" / "samples").mkdir(parents=True)
    (tmp_path / "out" / "ebgan-mnist" / "samples" / "final.png").write_bytes(b"png")
    results = tmp_path / "results"
    results.mkdir()
    (results / "objectives.md").write_text("| gan | `dcgan-mnist` | 6355 | 203 | 540 | 1710 | 9.40 | 0.434 | 0.807 | 10 |"
                                           " 0.151 | x |\n")
    (results / "energy_info.md").write_text("old\n## Reading the results\n\nkept by hand\n")
    args = argparse.Namespace(argv=["--seeds", "5", "--out", str(tmp_path)], jobs=2, info_budget=600.0, n=5000,
                              began_steps=4000, began_every=500, began_n=2000, budget=540.0, out=str(tmp_path / "out"))
    info = [{"seed": s, "budget": 600.0, "n": 5000, "steps": 2500, "cpu_seconds": 600.0, "mi_cat": 2.29, "cat_acc_fake": 0.99,
             "scores": {"cluster_acc": a, "fid": 3.0, "precision": 0.5, "recall": 0.6}}
            for s, a in enumerate([0.97, 0.80, 0.96, 0.70, 0.951])]
    points = [{"step": 500 * i, "M": 0.3 / i, "k": 0.01, "fid": 50.0 / i, "precision": 0.3, "recall": 0.2}
              for i in range(1, 5)]
    began = [{"gamma": g, "every": 500, "n": 2000, "steps": 2000, "cpu_seconds": 300.0, "points": points,
              "final": {"fid": 12.5, "precision": 0.6 - g / 2, "recall": 0.2 + g / 2}} for g in (0.3, 0.5, 0.7)]
    ebgan = [{"preset": "ebgan-mnist", "budget": 540.0, "n": 5000, "steps": 5000, "scores": {"fid": 7.5, "precision": 0.4, "recall": 0.8,
                                                                 "classes_hit": 10}}]
    inv = [{**r, "scores": {**r["scores"], "cluster_acc": r["scores"]["cluster_acc"] - 0.1}} for r in info]
    path = bench.report(args, {"infogan": info, "infogan-inv": inv, "began": began, "ebgan": ebgan}, results,
                        "2026-12-04 01:00")
    text = path.read_text()
    assert "**3 of 5** (met)" in text and "| 0 | 2500 | 600 | 97.0% | 2.290 |" in text
    assert "**0 of 5** (not met)" in text and "| 0 | 2500 | 600 | 87.0% | 2.290 |" in text  # the second study
    assert text.index("## InfoGAN: the categorical") < text.index("## InfoGAN with the invariance term")
    assert "energy_info/infogan0.png" in text and "energy_info/infogan-inv0.png" in text
    assert "| 0.5 | 2000 | 300 | 0.0750 | 0.0100 | +1.00 | 12.50 | 0.350 | 0.450 |" in text  # M and FID fall together
    assert "| EBGAN-PT | `ebgan-mnist` | 5000 | 7.50 |" in text and "| 6355 | 9.40 | 0.434 |" in text
    assert str(tmp_path) not in text and text.endswith("kept by hand\n")
    assert (results / "energy_info" / "began_m_vs_fid.png").stat().st_size > 1000
    assert (results / "energy_info" / "began_gamma_pr.png").stat().st_size > 1000
