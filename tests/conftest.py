import os

import pytest

# Tests are CPU-only and must not fight over the 2 cores of CI with oversubscribed thread pools.
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Resume tests compare runs bit for bit, which needs one thread count: no sharing of the cores with
# whatever else trains on this machine meanwhile (tests/test_resume_trust.py tests the sharing itself).
os.environ["GANKIT_SHARE_CORES"] = "0"

# Tiny, fast settings for end-to-end runs on the embedded 8x8 digits.
FAST = ["train.progress=false", "train.tensorboard=false", "train.log_every=5"]


@pytest.fixture
def fast():
    return list(FAST)


def load_benchmark(name: str):
    """benchmarks/NAME.py as a module (the benchmarks are scripts, not part of the package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


@pytest.fixture
def benchmark_module():
    return load_benchmark


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Classifiers and reference statistics go to a per-session cache, never the user's."""
    if "GANKIT_TEST_CACHE" in os.environ:  # reuse across local runs: GANKIT_TEST_CACHE=/some/dir pytest
        os.environ["GANKIT_CACHE"] = os.environ["GANKIT_TEST_CACHE"]
    else:
        os.environ["GANKIT_CACHE"] = str(tmp_path_factory.mktemp("gankit-cache"))
    yield


@pytest.fixture(scope="session")
def digits_classifier():
    """The dataset classifier of the 8x8 digits at 16 px (trained once per session, in its cache)."""
    from gankit.config import DataConfig
    from gankit.metrics.extractors import build_extractor

    return build_extractor("classifier", DataConfig(name="digits", resolution=16, channels=1))
