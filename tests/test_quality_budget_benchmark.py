"""benchmarks/quality_budget.py: its report on made-up rows and its recognisable share (the training itself is
the benchmark's, on demand)."""
import argparse

import pytest
import torch


def _row(row, budget, seed, fid, family="dcgan", dataset="mnist", conditional=False):
    ext = f"classifier:{dataset}"
    return {"row": row, "preset": None if row == "seed-loop" else row, "dataset": dataset, "family": family,
            "conditional": conditional, "ema": row == "dcgan-mnist", "seed": seed, "budget": float(budget),
            "n": 5000, "steps": 1000 + 10 * seed, "cpu_seconds": budget + 0.2, "wall_seconds": budget * 1.1,
            "real_n": 500, "notes": [],
            "scores": {f"fid[{ext}]": fid, f"fid_floor[{ext}]": 0.46 if dataset == "mnist" else 0.02,
                       f"precision[{ext}]": 0.3 + 0.1 * seed, f"recall[{ext}]": 0.5, f"classes_hit[{ext}]": 10 - seed,
                       f"class_kl[{ext}]": 0.01, f"recognisable[{ext}]": 0.8 + 0.1 * seed,
                       f"recognisable_real[{ext}]": 0.974}}


def _rows():
    rows = []
    for budget, ref, mlp, dcgan in ((60, (100, 120), (20, 24), (30, 34)), (300, (300, 340), (115, 135), (100, 120))):
        for seed in (0, 1):
            rows += [_row("seed-loop", budget, seed, ref[seed], family="mlp"),
                     _row("gan-mnist", budget, seed, mlp[seed], family="mlp"),
                     _row("dcgan-mnist", budget, seed, dcgan[seed]),
                     _row("acgan-mnist", budget, seed, 1.0 + seed, conditional=True),  # conditional: not in the ratio
                     _row("dcgan-fashion-mnist", budget, seed, 5.0 + seed, dataset="fashion-mnist")]
    return rows


def test_report_means_ratio_figure_and_kept_reading(benchmark_module, tmp_path):
    bench = benchmark_module("quality_budget")
    (tmp_path / "quality_budget.md").write_text("OLD-TABLE\n## Reading the results\n\nkept by hand\n")
    args = argparse.Namespace(argv=["--budgets", "60,300", "--seeds", "0,1", "--out", "/home/someone/runs",
                                    "--results=/home/someone/res", "--collect"], n=5000, collect=True)
    md = bench.report(args, _rows()[::-1], tmp_path, "2026-12-05 10:00")
    text = md.read_text()
    assert "`python benchmarks/quality_budget.py --budgets 60,300 --seeds 0,1`" in text
    assert "/home/someone" not in text
    lines = text.splitlines()
    table = [ln for ln in lines if ln.startswith("| ") and "| 60 |" in ln and not ln.startswith("| 60 |")]
    # the reference first, then the presets in their default order; mean ± sample sd over the two seeds
    assert [ln.split(" | ")[0] for ln in table] == ["| seed-loop (reference)",
                                                     "| `acgan-mnist` (conditional; the default job)",
                                                     "| `dcgan-mnist`", "| `gan-mnist`", "| `dcgan-fashion-mnist`"]
    gan = table[3]
    assert ("| `gan-mnist` | mlp | 60 | 2 | 1005 ± 7 | 60 ± 0 | 22.00 ± 2.83 | 0.350 ± 0.071 | 0.500 ± 0.000 | "
            "9.5 ± 0.7 | 0.850 ± 0.071 | [0](quality_budget/gan-mnist-60-seed0.png) "
            "[1](quality_budget/gan-mnist-60-seed1.png) |") == gan
    assert "| seed-loop (reference) | mlp | 300 | 2 |" in text and "| 320.00 ± 28.28 |" in text
    assert "| `dcgan-mnist` | dcgan + EMA | 60 |" in text
    assert "Real-data floor: FID 0.46" in text and "Real-data floor: FID 0.02" in text
    assert "(the ceiling): 0.974 (of 500)" in text
    assert text.index("## MNIST") < text.index("## Fashion-MNIST") < text.index("## Against the seed-style loop")
    # the best unconditional MNIST preset over the seed loop: gan-mnist 22 / 110 at 60 s; dcgan-mnist 110 / 320 at 300 s
    assert "| 60 | 110.00 | `gan-mnist` | 22.00 | **0.20×** | met | `gan-mnist` | 22.00 | 0.20× |" in text
    assert "| 300 | 320.00 | `dcgan-mnist` | 110.00 | **0.34×** | MISSED | `gan-mnist` | 125.00 | 0.39× |" in text
    # the default job against its goal at 300 CPU-s (FID <= 3 and recognisable >= 0.85): seed 0 reads only 0.8
    assert ("seed 0: FID 1.00, recognisable 0.800 (missed); seed 1: FID 2.00, recognisable 0.900 (met). "
            "**Met in 1 of 2 seeds.**") in text
    assert text.index("## Fashion-MNIST") < text.index("## The default job") < text.index("## Against the seed")
    assert (tmp_path / "quality_budget" / "fid_vs_cpu_seconds.png").stat().st_size > 1000
    assert "![FID against CPU-seconds](quality_budget/fid_vs_cpu_seconds.png)" in text
    assert text.rstrip().endswith("kept by hand") and "OLD-TABLE" not in text
    assert len(__import__("json").loads((tmp_path / "quality_budget.json").read_text())) == 20


def test_report_with_one_seed_and_no_reference(benchmark_module, tmp_path):
    bench = benchmark_module("quality_budget")
    args = argparse.Namespace(argv=["--rows", "gan-mnist", "--seeds", "0"], n=500)
    text = bench.report(args, [_row("gan-mnist", 5, 0, 300.0, family="mlp")], tmp_path, "2026-12-05 10:00").read_text()
    assert "| `gan-mnist` | mlp | 5 | 1 | 1000 | 5 | 300.00 | 0.300 | 0.500 | 10.0 | 0.800 |" in text
    assert "## Against the seed-style loop" not in text and "## Reading the results" not in text
    assert "## The default job" not in text


def test_recognisable_share_on_hand_made_logits(benchmark_module):
    bench = benchmark_module("quality_budget")
    # max softmax: e³/(e³+2) = 0.909, e²/(e²+2) = 0.787, 1/3, about 1
    logits = torch.tensor([[3.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    assert bench.recognisable_share(logits) == 0.5
    assert bench.recognisable_share(logits, threshold=0.5) == 0.75
    assert bench.recognisable_share(probs=logits.softmax(1)) == 0.5
    assert bench.recognisable_share(logits[[0, 3]]) == 1.0 and bench.recognisable_share(logits[[1, 2]]) == 0.0
    with pytest.raises(ValueError):
        bench.recognisable_share(logits, probs=logits.softmax(1))
    with pytest.raises(ValueError):
        bench.recognisable_share(torch.zeros(0, 10))
