import os

import pytest

# Tests are CPU-only and must not fight over the 2 cores of CI with oversubscribed thread pools.
os.environ.setdefault("OMP_NUM_THREADS", "2")

# Tiny, fast settings for end-to-end runs on the embedded 8x8 digits.
FAST = ["train.progress=false", "train.tensorboard=false", "train.log_every=5"]


@pytest.fixture
def fast():
    return list(FAST)
