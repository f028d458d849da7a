"""benchmarks/modern.py: its report on made-up rows (the training itself is the benchmark's, on demand)."""
import argparse


def _row(row, fid, seed=0):
    return {"row": row, "preset": f"{row}-fashion-mnist", "seed": seed, "budget": 1800.0, "n": 5000, "steps": 1234,
            "kimg": 39.5, "cpu_seconds": 1800.2, "wall_seconds": 2000.0, "notes": [],
            "scores": {"fid[classifier:fashion-mnist]": fid, "fid_floor[classifier:fashion-mnist]": 0.02,
                       "kid[classifier:fashion-mnist]": 0.0301, "precision[classifier:fashion-mnist]": 0.678,
                       "recall[classifier:fashion-mnist]": 0.6656}}


def test_report_table_floor_speed_and_kept_reading(benchmark_module, tmp_path):
    bench = benchmark_module("modern")
    (tmp_path / "modern.md").write_text("old table\n## Reading the results\n\nkept by hand\n")
    args = argparse.Namespace(argv=["--budget", "1800", "--out", "/home/someone/runs", "--collect"], n=5000,
                              speed_rows=[{"precision": "bf16", "threads": 2, "steps": 20, "repeats": 3,
                                           "img_per_s": 81.25, "date": "2026-12-04 06:00"}])
    md = bench.report(args, [_row("stylegan", 2.5), _row("dcgan", 3.456)], tmp_path, "2026-12-04 06:00")
    text = md.read_text()
    assert "`python benchmarks/modern.py --budget 1800`" in text and "/home/someone" not in text
    lines = [ln for ln in text.splitlines() if ln.startswith("| dcgan") or ln.startswith("| stylegan")]
    assert lines[0].startswith("| dcgan") and "| 3.46 | 0.030 | 0.678 | 0.666 |" in lines[0]  # ROWS order, values
    assert "| 2.50 |" in lines[1]
    assert "Real-data floor: FID 0.02" in text and "| bf16 | 2 | 81.2 |" in text
    assert text.rstrip().endswith("kept by hand") and "old table" not in text


def test_shown_arguments_drop_paths_and_report_switches(benchmark_module):
    bench = benchmark_module("modern")
    assert bench._shown(["--rows", "dcgan", "--out", "/x", "--results=/r", "--score-only", "--n", "5"]) == \
        ["--rows", "dcgan", "--n", "5"]
