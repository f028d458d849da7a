"""benchmarks/pix2pix.py: the grid's layout, the choice of its inputs, the table and the verdict, on tiny inputs."""
import pytest
import torch


def test_grid_columns_put_each_input_its_translations_and_target_on_one_row(benchmark_module):
    bench = benchmark_module("pix2pix")
    n = 3
    inputs = torch.full((n, 1, 4, 4), -1.0) + torch.arange(n).view(n, 1, 1, 1) * 0.01
    outs = [torch.full((n, 1, 4, 4), 0.1 * (k + 1)) + torch.arange(n).view(n, 1, 1, 1) * 0.01 for k in range(3)]
    targets = torch.full((n, 1, 4, 4), 1.0) - torch.arange(n).view(n, 1, 1, 1) * 0.01
    grid = bench.grid_columns(inputs, outs, targets)
    assert grid.shape == (n * 5, 1, 4, 4)
    for i in range(n):  # row-major: input | L1 | cGAN | L1+cGAN | target
        row = grid[5 * i:5 * i + 5]
        expected = [inputs[i], outs[0][i], outs[1][i], outs[2][i], targets[i]]
        for got, want in zip(row, expected):
            assert torch.equal(got, want)
    # a 3-channel column makes every column 3-channel
    rgb = bench.grid_columns(inputs, [torch.zeros(n, 3, 4, 4)], targets)
    assert rgb.shape == (n * 3, 3, 4, 4) and torch.equal(rgb[0, 2], inputs[0, 0])
    with pytest.raises(ValueError):
        bench.grid_columns(inputs, [outs[0][:2]], targets)


def test_grid_indices_take_the_first_pair_of_each_new_class(benchmark_module):
    bench = benchmark_module("pix2pix")
    labels = torch.tensor([9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0])
    assert bench.grid_indices(labels, 8) == [0, 1, 2, 4, 6, 8, 9, 13]
    assert bench.grid_indices(torch.tensor([0, 0, 1, 1]), 3) == [0, 2, 1]  # fewer classes than k: topped up


def _record(row, fid, acc, ceil=0.9, status="ok"):
    return {"row": row, "label": row, "overrides": ["game.x=1"] if row != "l1+cgan" else [], "steps": 10,
            "status": status, "cpu_seconds": 12.0, "train_seconds": 7.0, "eval_seconds": 3.0,
            "scores": {"l1[pixels]": 0.1, "ssim[pixels]": 0.5, "psnr[pixels]": 20.0,
                       "fid[classifier:fashion-mnist]": fid, "fid_floor[classifier:fashion-mnist]": 0.1,
                       "class_acc[classifier:fashion-mnist]": acc,
                       "class_acc_targets[classifier:fashion-mnist]": ceil}}


def test_table_and_verdict(benchmark_module):
    bench = benchmark_module("pix2pix")
    rows = [_record("l1", 5.0, 0.70), _record("cgan", 3.0, 0.80), _record("l1+cgan", 2.0, 0.85)]
    lines = bench.format_table(rows, {"n": 2000, "scores": {"fid[x]": 0.5, "class_acc[x]": 0.9}})
    assert len(lines) == 2 + 3 + 1 and all(line.count("|") == lines[0].count("|") for line in lines)
    assert "| 2.00 | 85.0% | 94.4% |" in lines[4] and "`game.x=1`" in lines[2] and "(preset)" in lines[4]
    v = "\n".join(bench.verdict({r["row"]: r for r in rows}))
    assert "Goal (both): **met**" in v and "**reproduced**" in v and "best on FID too" in v

    rows[2] = _record("l1+cgan", 6.0, 0.80)  # FID above L1's, 88.9% of the ceiling, cGAN ties on accuracy
    v = "\n".join(bench.verdict({r["row"]: r for r in rows}))
    assert "not lower, **not met**" in v and "(goal ≥ 90%): **not met**" in v and "Goal (both): **not met**" in v

    failed = _record("cgan", float("nan"), float("nan"), status="diverged")
    lines = bench.format_table([rows[0], failed])
    assert "**diverged**" in lines[3] and lines[3].count("|") == lines[0].count("|")
    assert "Not judged" in bench.verdict({"l1": rows[0], "cgan": failed, "l1+cgan": rows[2]})[0]


def test_rows_parse(benchmark_module):
    bench = benchmark_module("pix2pix")
    assert bench.parse_rows("L1, cgan,l1+cgan,l1") == ["l1", "cgan", "l1+cgan"]
    with pytest.raises(SystemExit):
        bench.parse_rows("l1,gan")


def test_correctness_and_paired_bootstrap(benchmark_module):
    bench = benchmark_module("pix2pix")
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert bench.correctness(probs, torch.tensor([0, 1, 1, 0])) == "1100"
    boot = bench.bootstrap({"a": "1100" * 50, "b": "1110" * 50, "t": "1111" * 50}, draws=300)
    assert set(boot) == {"a", "b", "t"} and all(v.shape == (300,) for v in boot.values())
    assert torch.all(boot["t"] == 1) and abs(float(boot["a"].mean()) - 0.5) < 0.02
    assert torch.all(boot["b"] >= boot["a"])  # paired: the same pairs are drawn for every row
    lo, hi = bench.interval(boot["a"])
    assert 0.4 < lo < 0.5 < hi < 0.6
    with pytest.raises(ValueError):
        bench.bootstrap({"a": "10", "b": "101"})


def test_verdict_with_intervals(benchmark_module):
    bench = benchmark_module("pix2pix")
    rows = {k: {**_record(k, f, a), "correct": c} for k, f, a, c in
            [("l1", 5.0, 0.5, "10" * 100), ("cgan", 3.0, 0.6, "110" * 66 + "11"), ("l1+cgan", 2.0, 0.75, "1110" * 50)]}
    v = bench.verdict(rows, {"correct": "1" * 200})
    assert "95% interval over the held-out pairs" in v[1] and "L1+cGAN − cGAN" in v[-1]
