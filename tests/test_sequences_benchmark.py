"""benchmarks/sequences.py: its report on made-up rows (the training itself is the benchmark's, on demand)."""
import argparse


def _oracle(row, seed, nll, pre=None):
    sweep = {t: {"oracle_nll": nll - (1.0 - float(t)), "oracle_nll_floor": 5.86, "heldout_nll": 8.1 + seed / 10,
                 "self_bleu": 0.2 + float(t) / 10} for t in ("0.7", "1")}
    if row == "mle":
        sweep["0.5"] = {"oracle_nll": 7.0, "self_bleu": 0.5}
    r = {"task": "oracle", "row": row, "preset": f"{row}-oracle", "seed": seed, "n": 5000, "steps": 3400,
         "pretrain_steps": 3000 if row != "mle" else 0, "cpu_seconds": 600.0 * (seed + 1), "wall_seconds": 1.0,
         "sweep": sweep, "samples": ["1 2 3"]}
    if pre is not None:
        r["pretrained"] = {"1": {"oracle_nll": pre}}
    return r


def _names(row, seed):
    sweep = {t: {"heldout_nll": 1.9, "ngram_jsd": 0.25, "ngram_jsd_floor": 0.24, "novelty": 0.6, "validity": 0.01,
                 "bleu": 0.6 + float(t) / 100, "bleu_real": 0.62, "self_bleu": 0.5, "self_bleu_real": 0.57}
             for t in ("0.7", "1")}
    return {"task": "names", "row": row, "preset": f"{row}-names", "seed": seed, "n": 2000, "steps": 2500,
            "pretrain_steps": 0, "cpu_seconds": 60.0, "wall_seconds": 1.0, "sweep": sweep,
            "samples": ["anna", "", "bob"]}


def test_report_means_over_seeds_the_sweep_the_figure_and_kept_reading(benchmark_module, tmp_path):
    bench = benchmark_module("sequences")
    (tmp_path / "sequences.md").write_text("OLD-TABLE\n## Reading the results\n\nkept by hand\n")
    args = argparse.Namespace(argv=["--seeds", "0,1", "--out", "/home/someone/x", "--collect"], n=5000,
                              temperatures="0.7,1.0")
    rows = [_oracle("mle", 0, 8.3), _oracle("mle", 1, 8.5), _oracle("seqgan", 0, 8.0, pre=8.3),
            _oracle("seqgan", 1, 8.2, pre=8.5), _names("mle", 0), _names("gumbel", 0)]
    md = bench.report(args, rows, tmp_path, "2026-12-04 08:00")
    text = md.read_text()
    assert "`python benchmarks/sequences.py --seeds 0,1`" in text and "/home/someone" not in text
    seqgan = next(ln for ln in text.splitlines() if ln.startswith("| seqgan |"))
    # mean ± sample sd over the seeds: T=0.7 (7.7, 7.9), T=1 (8.0, 8.2), pre-trained (8.3, 8.5), CPU min (10, 20)
    assert "| 2 | 3400 (3000) | 15.000 ± 7.071 | 7.800 ± 0.141 | 8.100 ± 0.141 | 8.400 ± 0.141 |" in seqgan
    assert "| NLL_oracle | 7.000 ± 0.000 | 8.100 ± 0.141 | 8.400 ± 0.141 |" in text  # MLE's sweep, 0.5 first
    assert "entropy rate, the value a perfect generator scores, is 5.860" in text
    assert "| gumbel | 0.7 |" in text and "- mle: anna, (empty), bob" in text
    assert (tmp_path / "sequences" / "names-quality-diversity.png").stat().st_size > 1000
    assert text.rstrip().endswith("kept by hand") and "OLD-TABLE" not in text.split("## Reading")[0]
