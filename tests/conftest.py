import os

import matplotlib
import pytest
import torch

matplotlib.use("agg")
os.environ.setdefault("PINR_FAST", "1")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)) if "PYTEST_XDIST_WORKER" not in os.environ else 1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
