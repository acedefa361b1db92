import pytest

from core import SimConfig


@pytest.fixture
def small() -> SimConfig:
    """A quick configuration for tests that only need some network."""
    return SimConfig(depth=4, width=16, n_samples=256, batch_size=32, device="cpu")
