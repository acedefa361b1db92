import pytest
import torch

from core import SimConfig


@pytest.fixture
def small() -> SimConfig:
    """A quick configuration for tests that only need some network."""
    return SimConfig(depth=4, width=16, n_samples=256, batch_size=32, device="cpu")


@pytest.fixture
def one_torch_thread():
    """Small networks (an unrolled RNN is hundreds of tiny ops) gain nothing from intra-op
    threads, and on a shared, loaded 2-core machine two spinning torch threads made a step
    ~5-20x slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
