"""Golden values for gankit's metric functions, computed with the reference implementations.

Run in the reference virtualenv (pytorch-fid, torch-fidelity, prdc installed), from anywhere:

    /tmp/goldenv/bin/python tests/golden/make_metric_golden.py

It writes ``metrics_golden.json`` next to itself: the generation parameters of each case (the inputs
are regenerated from them by ``metric_inputs.py``, never stored), the reference results, and the
library versions. ``tests/test_metrics.py`` compares gankit against this file.
"""
from __future__ import annotations

import contextlib
import io
import json
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import torch
from prdc import compute_prdc
from pytorch_fid.fid_score import calculate_frechet_distance
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

import metric_inputs as I

HERE = Path(__file__).resolve().parent


def main() -> None:
    out = {
        "about": "Reference metric values for tests/test_metrics.py; inputs regenerated from the parameters "
                 "with tests/golden/metric_inputs.py (numpy RandomState).",
        "command": "/tmp/goldenv/bin/python tests/golden/make_metric_golden.py",
        "libraries": {name: version(name) for name in
                      ("pytorch-fid", "torch-fidelity", "prdc", "numpy", "scipy", "scikit-learn", "torch")},
        "python": platform.python_version(),
        "fid": {}, "kid": {}, "is": {}, "prdc": {},
    }
    for name, p in I.FID_CASES.items():
        t = time.perf_counter()
        mu1, s1, mu2, s2 = I.fid_inputs(p)
        fid = float(calculate_frechet_distance(mu1, s1, mu2, s2))
        out["fid"][name] = {"params": p, "reference": "pytorch_fid.fid_score.calculate_frechet_distance",
                            "fid": fid}
        print(f"{name}: fid={fid!r} ({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    for name, p in I.KID_CASES.items():
        real, fake = I.pair_inputs(p)
        # float64 tensors: torch-fidelity computes in the features' dtype.
        r = kid_features_to_metric(torch.from_numpy(real), torch.from_numpy(fake), kid_subsets=p["subsets"],
                                   kid_subset_size=p["subset_size"], rng_seed=p["rng_seed"], verbose=False)
        out["kid"][name] = {"params": p, "reference": "torch_fidelity.metric_kid.kid_features_to_metric "
                            "(float64 features, poly kernel degree 3, gamma 1/d, coef0 1)",
                            "mean": r["kernel_inception_distance_mean"], "std": r["kernel_inception_distance_std"]}
        print(f"{name}: {out['kid'][name]}", file=sys.stderr)
    for name, p in I.IS_CASES.items():
        r = isc_features_to_metric(torch.from_numpy(I.is_inputs(p)), splits=p["splits"], shuffle=False)
        out["is"][name] = {"params": p, "reference": "torch_fidelity.metric_isc.isc_features_to_metric "
                           "(float64 logits, shuffle=False); gankit gets softmax(logits)",
                           "mean": r["inception_score_mean"], "std": r["inception_score_std"]}
        print(f"{name}: {out['is'][name]}", file=sys.stderr)
    for name, p in I.PRDC_CASES.items():
        real, fake = I.pair_inputs(p)
        res = {}
        for k in p["ks"]:
            with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the sample counts
                r = compute_prdc(real, fake, nearest_k=k)
            res[str(k)] = {m: float(v) for m, v in r.items()}
        out["prdc"][name] = {"params": p, "reference": "prdc.compute_prdc (float64 features)", "by_k": res}
        print(f"{name}: {res}", file=sys.stderr)
    path = HERE / "metrics_golden.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
