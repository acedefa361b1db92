"""The user's own model (core/architectures/user_model.py): every error is one line naming the file
(and the line where there is one), the example from resources/examples trains, and its per-layer
numbers equal a hook-free computation of the same pass; sessions record the file's SHA-256."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core import SimConfig, Simulator
from core.architectures.user_model import UserModelError, weighted_leaves
from core.data import DATASETS, BatchSampler
from core.session import Session, SessionError, load_session, save_session
from core.stats import HIST_MAX_VALUES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "small_cnn.py"
BASE = dict(dataset="digits", n_samples=128, batch_size=32, width=32, device="cpu")


def _cfg(model: str, **kw) -> SimConfig:
    return SimConfig(architecture="user", model=model, **{**BASE, **kw})


def _file(tmp_path: Path, text: str, name: str = "net.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path.resolve()


ERRORS = [  # (file text, factory, the message after "model: <path>")
    ("from torch import nn\ndef make(cfg)\n    return nn.Linear(64, 10)\n", "make",
     " line 2: SyntaxError: expected ':'"),
    ("import torch\nraise ImportError('no such thing')\n", "make",
     " line 2: ImportError: no such thing (while importing the file)"),
    ("from torch import nn\ndef build(cfg):\n    return nn.Linear(64, 10)\n", "make",
     ": no function 'make'; it defines: build"),
    ("def make(cfg):\n    width = cfg.width\n    raise ValueError(f'width {width} is odd')\n", "make",
     " line 3 (in make): ValueError: width 32 is odd"),
    ("def make(cfg):\n    return [1, 2]\n", "make", ": make(cfg) returned list, expected a torch.nn.Module"),
    ("from torch import nn\ndef make(cfg):\n    return nn.Sequential(nn.Linear(8, 10))\n", "make",
     ": forward on a batch of shape 2×64 (the data's) failed in module 0 (Linear): RuntimeError: "
     "mat1 and mat2 shapes cannot be multiplied (2x64 and 8x10)"),
    ("from torch import nn\nclass Net(nn.Module):\n    def forward(self, x):\n        return x.view(len(x), 3, -1)\n"
     "def make(cfg):\n    return Net()\n", "make",
     " line 4: forward on a batch of shape 2×64 (the data's) failed: RuntimeError: shape '[2, 3, -1]' is invalid "
     "for input of size 128"),
    ("from torch import nn\ndef make(cfg):\n    return nn.Sequential(nn.Linear(64, 5))\n", "make",
     ": forward returned (2, 5) for a batch of shape (2, 64); expected (2, 10) (logits for the 10 classes)"),
    ("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.scale = nn.Parameter(torch.ones(1))\n    def forward(self, x):\n        return self.scale * x[:, :10]\n"
     "def make(cfg):\n    return Net()\n", "make",
     ": the module make(cfg) returned has no layer with a weight that forward calls (a leaf module with a "
     "`weight` parameter, such as nn.Linear or nn.Conv2d)"),
]


@pytest.mark.parametrize("text,factory,message", ERRORS)
def test_each_error_is_one_line_naming_the_file(tmp_path, text, factory, message):
    path = _file(tmp_path, text)
    with pytest.raises(UserModelError) as info:
        Simulator(_cfg(f"{path}:{factory}"))
    assert str(info.value) == f"model: {path}{message}"


def test_cli_exit_2_with_one_line(tmp_path, run_cli):
    path = _file(tmp_path, "def make(cfg):\n    return 3\n")
    code, out, err = run_cli("probe", "--model", f"{path}:make", "--set", "dataset=digits")
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: model: {path}: make(cfg) returned int, expected a torch.nn.Module"]
    code, _, err = run_cli("run", "--steps", "1", "--model", f"{tmp_path / 'gone.py'}:make")
    assert code == 2 and err.splitlines() == [f"error: model: {(tmp_path / 'gone.py').resolve()} does not exist"]
    code, _, err = run_cli("probe", "--model", "net.py")
    assert code == 2 and err.splitlines() == [
        "error: model: expected FILE.py:FACTORY (a Python file and the name of a function in it), got 'net.py'"]


def test_config_needs_a_model_for_user_architecture():
    with pytest.raises(Exception, match="model: architecture 'user' needs a model file"):
        SimConfig(architecture="user")
    assert SimConfig(model="x.py:make").architecture == "mlp"  # kept, unused, by the built-in networks


def test_layers_are_weighted_leaves_in_call_order(tmp_path):
    # defined in one order, called in another; the norm layer's weight is a scale, not a layer
    path = _file(tmp_path, (
        "from torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.out = nn.Linear(16, 10)\n        self.norm = nn.LayerNorm(16)\n        self.inp = nn.Linear(64, 16)\n"
        "    def forward(self, x):\n        return self.out(self.norm(self.inp(x)).tanh())\n"
        "def make(cfg):\n    return Net()\n"))
    sim = Simulator(_cfg(f"{path}:make"))
    module = sim.model.module
    assert sim.model.probe_modules == [module.inp, module.out]
    assert weighted_leaves(module) == [module.out, module.inp]
    snap = sim.probe()
    assert snap.depth == 2
    # explicit: vp_layers names one layer
    named = _file(tmp_path, path.read_text().replace("return Net()", "net = Net()\n    net.vp_layers = ['out']\n    return net"),
                  "named.py")
    sim = Simulator(_cfg(f"{named}:make"))
    assert sim.model.probe_modules == [sim.model.module.out]
    assert sim.probe().depth == 1


def _independent_pass(cfg: SimConfig, factory):
    """The simulator's probe pass, computed without hooks: the same seeded data, weights and probe batch,
    the example's layers run one by one."""
    gen = torch.Generator().manual_seed(cfg.seed)
    data = DATASETS[cfg.dataset](cfg, gen)
    seed = int(torch.randint(0, 2**62, (1,), generator=gen))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = factory(cfg)
    idx = BatchSampler(len(data.y), cfg.batch_size, torch.Generator().manual_seed(cfg.seed + 1)).next_indices()
    h, zs, inputs = data.x[idx], [], []
    for layer in net:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            inputs.append(h)
            h = layer(h)
            h.retain_grad()
            zs.append(h)
        else:
            h = layer(h)
    loss = nn.functional.cross_entropy(h, data.y[idx])
    loss.backward()
    acts = [*inputs[1:], h]
    weights = [m.weight for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    return loss.item(), zs, acts, weights


def test_example_per_layer_numbers_match_a_hook_free_pass():
    namespace: dict = {}
    exec(compile(EXAMPLE.read_text(), str(EXAMPLE), "exec"), namespace)
    cfg = _cfg(f"{EXAMPLE}:make", activation="relu", n_samples=256, batch_size=64)
    snap = Simulator(cfg).probe()
    loss, zs, acts, weights = _independent_pass(cfg, namespace["make"])
    ls = snap.layers
    assert snap.depth == 3 and snap.loss == pytest.approx(loss, rel=1e-6)
    rtol = 1e-5  # float32 sums in another order
    np.testing.assert_allclose(ls.grad_norm, [z.grad.norm().item() for z in zs], rtol=rtol)
    np.testing.assert_allclose(ls.preact_mean, [z.mean().item() for z in zs], rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(ls.preact_std, [z.std(unbiased=False).item() for z in zs], rtol=rtol)
    np.testing.assert_allclose(ls.act_std, [a.std(unbiased=False).item() for a in acts], rtol=rtol)
    np.testing.assert_allclose(ls.weight_norm, [w.norm().item() for w in weights], rtol=rtol)
    np.testing.assert_allclose(ls.weight_grad_norm, [w.grad.norm().item() for w in weights], rtol=rtol)
    # relu's φ′ is 0 below 0: the saturated share is the share of z ≤ 0 (|φ′| < 5 % of 1)
    np.testing.assert_allclose(ls.saturated_frac, [(z <= 0).double().mean().item() for z in zs], atol=1e-12)
    assert np.isnan(ls.grad_noise).all()  # conv layers: no rank-one per-example gradients
    # the gradient histograms bin ∂L/∂z itself, over the first ⌈HIST_MAX_VALUES / units⌉ rows (a z.grad
    # kept by the model's retain_grad() is not added to a second time by the Simulator's own hook)
    for layer, z in enumerate(zs):
        g = z.grad.reshape(len(z.grad), -1)
        g = g[: -(-HIST_MAX_VALUES // g.shape[1])]
        assert ls.grad_hist_edges[layer, 0] == pytest.approx(g.min().item(), rel=1e-6)
        assert ls.grad_hist_edges[layer, -1] == pytest.approx(g.max().item(), rel=1e-6)


def test_example_trains():
    sim = Simulator(_cfg(f"{EXAMPLE}:make", activation="relu", optimizer="adam", lr=0.003, n_samples=512,
                         batch_size=64))
    first = sim.probe().loss
    last = sim.step(150)
    # chance is ln 10 = 2.30; 150 Adam steps on 512 digits bring the loss well below it
    assert first == pytest.approx(math.log(10), abs=0.3)
    assert last.loss < 0.5 and last.accuracy > 0.8 and not last.nonfinite


def test_linear_model_has_gradient_noise(tmp_path):
    path = _file(tmp_path, "from torch import nn\ndef make(cfg):\n"
                           "    return nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))\n")
    snap = Simulator(_cfg(f"{path}:make")).step(1)
    assert np.isfinite(snap.layers.grad_noise).all()


def test_an_in_place_activation_after_a_layer_changes_nothing_measured(tmp_path):
    """ReLU(inplace=True) overwrites the Linear's output: z, its moments and ∂L/∂z (= ∂L/∂a ⊙ 1[z > 0])
    are still the layer's output's, the same as with an ordinary ReLU, in snapshots and in the trail."""
    text = ("from torch import nn\ndef make(cfg, inplace={}):\n"
            "    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(inplace=inplace), nn.Linear(32, 32),"
            " nn.ReLU(inplace=inplace), nn.Linear(32, 10))\n")
    in_place = Simulator(_cfg(f"{_file(tmp_path, text.format(True), 'a.py')}:make", activation="relu"))
    ordinary = Simulator(_cfg(f"{_file(tmp_path, text.format(False), 'b.py')}:make", activation="relu"))
    for a, b in ((in_place.probe(), ordinary.probe()), (in_place.step(4), ordinary.step(4))):
        for name in ("preact_mean", "preact_std", "act_mean", "grad_norm", "dead_frac", "grad_hist_counts"):
            np.testing.assert_array_equal(getattr(a.layers, name), getattr(b.layers, name))
        assert (a.layers.preact_mean[:2] < 0).any() or (a.layers.preact_std[:2] > a.layers.act_std[:2]).all()
    for r, q in zip(in_place.trail(), ordinary.trail(), strict=True):
        np.testing.assert_array_equal(r.grad_norm, q.grad_norm)


def test_a_module_returned_in_eval_mode_trains_in_training_mode_every_step(tmp_path):
    """Each training forward in training mode adds one to BatchNorm's batch count: all three steps'
    (two without a snapshot, one with), not only the snapshot's."""
    path = _file(tmp_path, "from torch import nn\ndef make(cfg):\n"
                           "    return nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.Tanh(),"
                           " nn.Linear(32, 10)).eval()\n")
    sim = Simulator(_cfg(f"{path}:make"))
    sim.step(3)
    norm = sim.model.module[1]
    assert sim.model.training and norm.training
    assert int(norm.num_batches_tracked) == 3


def test_same_config_builds_the_same_weights_and_leaves_the_global_generator(tmp_path):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = Simulator(_cfg(f"{EXAMPLE}:make")), Simulator(_cfg(f"{EXAMPLE}:make"))
    assert torch.equal(torch.random.get_rng_state(), before)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_autoencoder_reconstructs(tmp_path):
    path = _file(tmp_path, "from torch import nn\ndef make(cfg):\n"
                           "    return nn.Sequential(nn.Linear(64, 8), nn.Tanh(), nn.Linear(8, 64))\n")
    snap = Simulator(SimConfig(architecture="user_autoencoder", model=f"{path}:make", **BASE)).probe()
    assert math.isnan(snap.accuracy) and snap.loss > 0 and snap.depth == 2


def test_session_records_the_hash_warns_when_changed_and_fails_when_gone(tmp_path):
    path = _file(tmp_path, EXAMPLE.read_text(), "mine.py")
    cfg = _cfg(f"{path}:make")
    saved = tmp_path / "s.json"
    save_session(saved, Session.single(cfg))
    session = load_session(saved)
    assert session.main.config == cfg and session.warnings == ()
    assert len(session.main.sha256["model"]) == 64
    path.write_text(path.read_text() + "\n# edited\n")
    assert load_session(saved).warnings == (
        "mine.py changed since the session was saved (SHA-256 differs): it opens as it is now, "
        "so the numbers may differ from the saved ones.",)
    path.unlink()
    with pytest.raises(SessionError, match=f"s.json: configs.main: the model {path} is gone"):
        load_session(saved)


def test_ab_comparison_and_diagnoses_work_with_a_user_model():
    from core.compare import Comparer, ConfigPair
    from core.diagnoses import diagnose

    a = _cfg(f"{EXAMPLE}:make", activation="relu")
    comparer = Comparer(ConfigPair(a, a.replace(activation="tanh")))
    # the activation holds no weights: one seed, the same initial weights on both sides
    for p, q in zip(comparer.sim_a.model.parameters(), comparer.sim_b.model.parameters()):
        assert torch.equal(p, q)
    comparison = comparer.step(2)
    assert comparison.a.depth == comparison.b.depth == 3 and comparison.step == 2
    assert np.isfinite(comparison.diff.log10_ratio).all()
    assert torch.equal(comparer.sim_a._sampler.next_indices(), comparer.sim_b._sampler.next_indices())
    assert isinstance(diagnose(comparison.a, a), list)
