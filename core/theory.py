"""Mean-field signal propagation at initialization (Poole et al. 2016; Schoenholz et al. 2017).

For a fully connected net whose layer-l weights have variance σ_w²(l)/fan_in and
whose biases have variance σ_b², the pre-activations of an input x are Gaussian
over the weights at large width, with second moment q^l(x):

    q^1(x)   = σ_w²(1)·‖x‖²/d + σ_b²
    q^{l+1}  = σ_w²(l+1)·E_z[φ(√q^l z)²] + σ_b²          z ~ N(0, 1)

and, going back, the expected squared norm of ∂L/∂z (the pre-activation
gradient) is multiplied per layer by

    χ_l      = σ_w²(l+1)·E_z[φ′(√q^l z)²].

The Gaussian expectations use composite Gauss–Legendre quadrature split at 0
(see `_nodes`) and closed forms for the ReLU family; they are tabulated once per activation on a
grid of q and interpolated, so a profile over 1000 layers costs a few ms.

Where the input comes from: every data set is standardized per feature, but the
theory needs each sample's own ‖x‖²/d (a 2-D spiral point near the centre has a
much smaller one than a point on the rim, and a tanh layer treats them
differently). `input_moments` therefore draws the data set of the config and
summarizes ‖x‖²/d by `N_QUANTILES` equal-mass quantiles, each propagated on its
own; the predicted layer statistics are averages over those points, which is
what the simulator's batch statistics measure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .activations import ACTIVATIONS
from .config import RECURRENT_ARCHITECTURES, USER_ARCHITECTURES, SimConfig
from .data import DATASETS, input_dim_for
from .inits import expected_weight_std

N_LEGENDRE = 16
HALF_LINE = 12.0          # the Gaussian weight is below 1e-31 beyond 12 standard deviations
N_QUANTILES = 32
# q grid of the tables: 0 and a log grid wide enough for saturated and exploding nets.
Q_GRID = np.concatenate([[0.0], np.logspace(-8.0, 6.0, 2801)])
Q_MAX = 1e30              # extrapolation cap: beyond it a net has long overflowed float32
NO_THEORY_INITS = {"zeros": "zero weights", "constant": "constant weights"}
_SQRT_2PI = math.sqrt(2.0 * math.pi)


# --- Gaussian expectations --------------------------------------------------------------
def _phi(name: str, slope: float, x: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    with torch.no_grad():
        return ACTIVATIONS[name].make(slope)(t).numpy()


def _dphi(name: str, slope: float, x: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    return ACTIVATIONS[name].derivative(t, slope).numpy()


# Composite Gauss–Legendre on each half-line z ∈ [0, HALF_LINE]: panel edges at fixed points
# (the Gaussian's scale) and at c/√q (the activation's own scale: φ′(√q z) is a peak of width
# ~1/√q). Gauss–Hermite alone misses such peaks: with 121 nodes its error on E[sigmoid′⁴] is
# 7e-5 at q = 9 and grows with q. The split at 0 also makes kinks there (elu, selu) harmless.
_FIXED_EDGES = np.array([0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.5, 8.0, 10.0, HALF_LINE])
_SCALED_EDGES = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
_GL_T, _GL_W = np.polynomial.legendre.leggauss(N_LEGENDRE)


def _nodes(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z [..., n] and weights [..., n] with Σ w·f(z) ≈ E[f(z)], z ~ N(0, 1), for each q."""
    with np.errstate(divide="ignore"):
        scaled = np.clip(_SCALED_EDGES / np.sqrt(q)[..., None], 0.0, HALF_LINE)
    edges = np.sort(np.concatenate([np.broadcast_to(_FIXED_EDGES, scaled.shape[:-1] + _FIXED_EDGES.shape),
                                    scaled], axis=-1), axis=-1)
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]           # [..., panels, 1]
    z = lo + (hi - lo) * (_GL_T + 1.0) / 2.0                        # [..., panels, n]
    w = (hi - lo) / 2.0 * _GL_W * np.exp(-0.5 * z * z) / _SQRT_2PI
    z, w = z.reshape(*z.shape[:-2], -1), w.reshape(*w.shape[:-2], -1)
    return np.concatenate([-z, z], axis=-1), np.concatenate([w, w], axis=-1)


def gaussian_moments(name: str, slope: float, q: np.ndarray) -> dict[str, np.ndarray]:
    """E[φ(u)], E[φ(u)²], E[φ(u)⁴], E[φ′(u)²], E[φ′(u)⁴] for u ~ N(0, q), elementwise over q.

    Closed forms for relu, leaky_relu, shifted_relu and linear; quadrature for the rest.
    """
    q = np.asarray(q, dtype=np.float64)
    closed = _closed_form(name, slope, q)
    if closed is not None:
        return closed
    z, w = _nodes(q)
    u = np.sqrt(q)[..., None] * z                      # [..., nodes]
    f, d = _phi(name, slope, u), _dphi(name, slope, u)
    f2, d2 = f * f, d * d
    e = lambda v: (v * w).sum(-1)  # noqa: E731
    return {"m1": e(f), "m2": e(f2), "m4": e(f2 * f2), "d2": e(d2), "d4": e(d2 * d2)}


def _closed_form(name: str, slope: float, q: np.ndarray) -> dict[str, np.ndarray] | None:
    """u ~ N(0, q): E[relu(u)] = √q/√(2π), E[relu²] = q/2, E[relu⁴] = 3q²/2, P(u > 0) = 1/2."""
    one = np.ones_like(q)
    s = np.sqrt(q)
    if name == "linear":
        return {"m1": 0 * q, "m2": q, "m4": 3 * q * q, "d2": one, "d4": one}
    if name == "relu" or name == "leaky_relu":
        a = slope if name == "leaky_relu" else 0.0
        # φ(u) = u on u > 0 and a·u on u < 0; each half carries half of every even moment.
        return {"m1": (1 - a) * s / _SQRT_2PI, "m2": (1 + a**2) * q / 2, "m4": (1 + a**4) * 1.5 * q * q,
                "d2": (1 + a**2) / 2 * one, "d4": (1 + a**4) / 2 * one}
    if name == "shifted_relu":
        # φ = r − c with r = relu(u), c = 0.5: expand (r − c)^k with E[r] = √q/√(2π),
        # E[r²] = q/2, E[r³] = 2q^{3/2}/√(2π), E[r⁴] = 3q²/2, E[r⁰] = 1 (the r = 0 half gives c^k).
        c = 0.5
        r1, r2, r3, r4 = s / _SQRT_2PI, q / 2, 2 * q * s / _SQRT_2PI, 1.5 * q * q
        m4 = r4 - 4 * c * r3 + 6 * c**2 * r2 - 4 * c**3 * r1 + c**4
        return {"m1": r1 - c, "m2": r2 - 2 * c * r1 + c * c, "m4": m4, "d2": one / 2, "d4": one / 2}
    return None


@dataclass(frozen=True)
class Table:
    """The Gaussian moments of one activation tabulated on `Q_GRID` (see `gaussian_moments`)."""

    values: dict[str, np.ndarray]

    def __call__(self, key: str, q: np.ndarray) -> np.ndarray:
        """Linear interpolation inside the grid; beyond it a power law through the last two points
        (every registered φ and φ′ grows like a power of √q at large q)."""
        v = self.values[key]
        q = np.asarray(q, dtype=np.float64)
        inside = np.interp(q, Q_GRID, v)
        if not np.any(q > Q_GRID[-1]):
            return inside
        a, b = v[-2], v[-1]
        power = math.log(b / a) / math.log(Q_GRID[-1] / Q_GRID[-2]) if a * b > 0 else 0.0
        with np.errstate(over="ignore", divide="ignore"):
            outside = b * (np.minimum(q, Q_MAX) / Q_GRID[-1]) ** power
        return np.where(q > Q_GRID[-1], outside, inside)


@lru_cache(maxsize=64)
def table(name: str, slope: float = 0.01) -> Table:
    """Cached `Table` of activation `name` (slope matters only for leaky_relu)."""
    # q = 0 is tabulated as the limit q → 0⁺: at exactly 0 a kinked φ′ would be read on one side only
    values = gaussian_moments(name, slope, np.maximum(Q_GRID, 1e-300))
    values["dm2"] = np.gradient(values["m2"], Q_GRID)   # d E[φ²] / dq, for Newton's method
    return Table(values)


# --- σ_w² of each layer ------------------------------------------------------------------
def layer_fans(cfg: SimConfig) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of each hidden layer: the first one reads the data's input_dim."""
    d = input_dim_for(cfg)
    return [(d if i == 0 else cfg.width, cfg.width) for i in range(cfg.depth)]


def sigma_w2(cfg: SimConfig) -> np.ndarray:
    """σ_w²(l) = fan_in·std² of each hidden layer's weights, [depth]."""
    return np.array([fi * expected_weight_std(cfg, fi, fo) ** 2 for fi, fo in layer_fans(cfg)])


def hidden_sigma_w2(cfg: SimConfig) -> float:
    """σ_w² of a width×width hidden layer (the one the phase diagram refers to)."""
    w = cfg.width
    return w * expected_weight_std(cfg, w, w) ** 2


# The recursion here is written for fully connected layers of `width` units.
NO_THEORY_ARCHITECTURES = {
    "cnn": "the recursion is written for fully connected layers; a 3×3 conv's fans are 9·width, and "
           "pooling changes the maps between layers",
    "residual_cnn": "the recursion is written for fully connected layers; a 3×3 conv's fans are 9·width, and "
                    "pooling changes the maps between layers",
    "transformer": "attention mixes the positions and every block normalizes with LayerNorm, which the "
                   "recursion for independent fully connected layers does not describe",
    "autoencoder": "its loss is a reconstruction of the input rather than a classification, and its decoder "
                   "is not a hidden layer of the recursion",
}


def not_applicable(cfg: SimConfig) -> str | None:
    """Why the mean-field recursion does not describe `cfg`, or None when it does."""
    if cfg.architecture in USER_ARCHITECTURES:
        return ("no mean-field prediction for your own model: the recursion is derived for the built-in "
                "networks of `depth` layers of `width` units, and your file may build any network")
    if cfg.architecture in RECURRENT_ARCHITECTURES:
        return (f"no mean-field prediction for '{cfg.architecture}': the recursion assumes fresh independent "
                "weights at every layer, while a recurrent network reuses W_hh at every time step "
                "(see the W_hh spectrum view for 'rnn')")
    if cfg.architecture in NO_THEORY_ARCHITECTURES:
        return f"no mean-field prediction for '{cfg.architecture}': {NO_THEORY_ARCHITECTURES[cfg.architecture]}"
    if cfg.init in NO_THEORY_INITS:
        return (f"no mean-field prediction for init '{cfg.init}': the theory assumes independent mean-zero "
                f"weights, and {NO_THEORY_INITS[cfg.init]} make every unit of a layer identical")
    if cfg.normalization != "none":
        return (f"no mean-field prediction with normalization '{cfg.normalization}': it rescales every layer "
                "to unit variance, which replaces the recursion for q")
    return None


# --- the data's input moments --------------------------------------------------------------
@lru_cache(maxsize=16)
def _input_moments(dataset: str, n_samples: int, input_dim: int, seed: int) -> np.ndarray:
    cfg = SimConfig(dataset=dataset, n_samples=n_samples, input_dim=input_dim, batch_size=16)
    data = DATASETS[dataset](cfg, torch.Generator().manual_seed(seed))
    per_sample = data.x.double().square().mean(1).numpy()
    # np.quantile's linear rule, written out: np.quantile imports numpy.ma lazily, and an import on
    # a GUI job thread is what app/worker.py's preload_torch exists to avoid
    levels = (np.arange(N_QUANTILES) + 0.5) / N_QUANTILES
    ordered = np.sort(per_sample)
    out = np.interp(levels * (len(ordered) - 1), np.arange(len(ordered)), ordered)
    out.setflags(write=False)
    return out


def input_moments(cfg: SimConfig) -> np.ndarray:
    """‖x‖²/d of the config's data set (drawn with its seed), as `N_QUANTILES` equal-mass quantiles."""
    return _input_moments(cfg.dataset, cfg.n_samples, cfg.input_dim, cfg.seed)


# --- the per-layer prediction --------------------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """Predicted per-layer statistics, arrays over the hidden layers (input side first).

    q: mean second moment of the pre-activations (compare preact_std² + preact_mean²);
    act_mean, act_std: of the activations over the data and the units;
    grad_ratio: ‖∂L/∂z^l‖ / ‖∂L/∂z^L‖ (1 at the last layer);
    chi: the per-layer factor of the squared gradient norm from layer l+1 to l, [depth−1]
    (for the residual architecture, the factor of ‖∂L/∂z‖² between consecutive layers);
    chi_mean: geometric mean of chi (the per-layer rate over this network).
    """

    q: np.ndarray
    act_mean: np.ndarray
    act_std: np.ndarray
    grad_ratio: np.ndarray
    chi: np.ndarray
    chi_mean: float

    @property
    def sentence(self) -> str:
        return chi_sentence(self.chi_mean)


def predict(cfg: SimConfig, q0: np.ndarray | None = None) -> Profile:
    """The mean-field profile of `cfg` at initialization, from the per-sample input moments
    `q0` = ‖x‖²/d (default: `input_moments(cfg)`). Raises ValueError if `not_applicable`."""
    reason = not_applicable(cfg)
    if reason is not None:
        raise ValueError(reason)
    tab = table(cfg.activation, cfg.leaky_slope)
    sw2, sb2 = sigma_w2(cfg), cfg.bias_std ** 2
    x2 = input_moments(cfg) if q0 is None else np.asarray(q0, dtype=np.float64)
    L, residual = cfg.depth, cfg.architecture == "residual"
    q = np.empty((L, len(x2)))                        # [layers, input points]
    q[0] = sw2[0] * x2 + sb2
    v, mu = tab("m2", q[0]), tab("m1", q[0])          # E[h²] and E[h] of the first layer's output
    for i in range(1, L):
        q[i] = np.minimum(sw2[i] * v + sb2, Q_MAX)
        a1, a2 = tab("m1", q[i]), tab("m2", q[i])
        if residual:
            # h^l = h^{l−1} + φ(z^l): z^l is (at large width) independent of the unit's own h^{l−1},
            # so E[h^{l−1} φ(z^l)] = E[h^{l−1}]·E[φ(z^l)].
            v, mu = np.minimum(v + 2 * mu * a1 + a2, Q_MAX), mu + a1
        else:
            v, mu = a2, a1
    m1, m2, d2 = tab("m1", q), tab("m2", q), tab("d2", q)
    mean = m1.mean(1)
    std = np.sqrt(np.maximum(m2.mean(1) - mean**2, 0.0))
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        if residual:
            # ∂L/∂h^{l−1} = ∂L/∂h^l + W_lᵀ ∂L/∂z^l: E‖·‖² grows by 1 + σ_w² E[φ′²] per layer, and
            # ‖∂L/∂z^l‖² = E[φ′(z^l)²]·‖∂L/∂h^l‖².
            chi_points = d2[:-1] / d2[1:] * (1 + sw2[1:, None] * d2[1:])
        else:
            chi_points = sw2[1:, None] * d2[:-1]      # [L−1, points]: layer l+1 → l
        log_chi = np.log(chi_points)
        # squared norm at layer l relative to the last: Σ_{k ≥ l} log χ_k, per input point
        tail = np.concatenate([np.cumsum(log_chi[::-1], axis=0)[::-1], np.zeros((1, len(x2)))])
        grad_ratio = np.sqrt(np.exp(tail).mean(1))
        chi = np.exp(log_chi.mean(1))
        chi_mean = float(np.exp(log_chi.mean())) if L > 1 else float("nan")
    return Profile(q.mean(1), mean, std, grad_ratio, chi, chi_mean)


def chi_sentence(chi: float) -> str:
    """'χ = 0.06 per layer: gradients shrink 10× every 1.6 layers' (norms change by √χ per layer)."""
    if not math.isfinite(chi) or chi <= 0:
        return "χ undefined: gradients vanish at once" if chi == 0 else "χ undefined (a single layer)"
    head = f"χ = {chi:.3g} per layer: "
    rate = 0.5 * math.log10(chi)                       # decades of gradient norm per layer
    if abs(rate) < 1e-4:
        return head + "gradient norms are preserved (the edge of chaos)"
    verb = "shrink" if rate < 0 else "grow"
    return head + f"gradients {verb} 10× every {1 / abs(rate):.2g} layers"


# --- the (σ_w², σ_b²) phase plane ------------------------------------------------------------
FIXED_POINT_ITERATIONS = 200
NEWTON_STEPS = 30


def fixed_point(name: str, slope: float, sw2: np.ndarray, sb2: np.ndarray, q_start: float = 1.0) -> np.ndarray:
    """q* of q ← σ_w² E[φ(√q z)²] + σ_b², by iteration from `q_start` (vectorised over the arrays).

    Where q grows without bound (the chaotic phase of an unbounded φ) it stops at `Q_MAX`,
    which is fine for χ: E[φ′²] has reached its large-q limit long before.
    """
    tab = table(name, slope)
    sw2, sb2 = np.broadcast_arrays(np.asarray(sw2, np.float64), np.asarray(sb2, np.float64))
    q = np.full(sw2.shape, float(q_start))
    for _ in range(FIXED_POINT_ITERATIONS):
        q = np.minimum(sw2 * tab("m2", q) + sb2, Q_MAX)
    # Near the edge of chaos the iteration creeps (q − q* ~ 1/steps): finish with Newton on
    # g(q) = σ_w² E[φ²] + σ_b² − q, which the iteration has brought close to its stable root.
    for _ in range(NEWTON_STEPS):
        g = sw2 * tab("m2", q) + sb2 - q
        slope_g = sw2 * tab("dm2", q) - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(slope_g < 0, g / slope_g, 0.0)
        q = np.clip(q - step, 0.0, Q_MAX)
    return q


def chi_at_fixed_point(name: str, slope: float, sw2: np.ndarray, sb2: np.ndarray) -> np.ndarray:
    """χ = σ_w² E[φ′(√q* z)²] at the fixed point q*."""
    q = fixed_point(name, slope, sw2, sb2)
    return np.asarray(sw2) * table(name, slope)("d2", q)


@dataclass(frozen=True)
class PhaseGrid:
    """log10 χ(q*) over sw2 × sb2: `log_chi[i, j]` at sb2[i], sw2[j]."""

    sw2: np.ndarray
    sb2: np.ndarray
    log_chi: np.ndarray


def phase_grid(name: str, slope: float = 0.01, sw2_max: float = 4.0, sb2_max: float = 0.25,
               n: int = 121) -> PhaseGrid:
    """χ at the fixed point over an n × n grid of (σ_w², σ_b²) ∈ (0, sw2_max] × [0, sb2_max]."""
    sw2 = np.linspace(sw2_max / n, sw2_max, n)
    sb2 = np.linspace(0.0, sb2_max, n)
    W, B = np.meshgrid(sw2, sb2)
    with np.errstate(divide="ignore"):
        log_chi = np.log10(chi_at_fixed_point(name, slope, W, B))
    return PhaseGrid(sw2, sb2, log_chi)


def critical_sigma_w2(name: str, slope: float, sb2: np.ndarray, hi: float = 64.0) -> np.ndarray:
    """σ_w² on the edge of chaos χ(q*) = 1 for each σ_b², by bisection (NaN where there is none below `hi`)."""
    sb2 = np.atleast_1d(np.asarray(sb2, dtype=np.float64))
    lo_w, hi_w = np.full(sb2.shape, 1e-6), np.full(sb2.shape, hi)
    none = chi_at_fixed_point(name, slope, hi_w, sb2) < 1
    for _ in range(40):
        mid = 0.5 * (lo_w + hi_w)
        above = chi_at_fixed_point(name, slope, mid, sb2) >= 1
        hi_w, lo_w = np.where(above, mid, hi_w), np.where(above, lo_w, mid)
    return np.where(none, np.nan, 0.5 * (lo_w + hi_w))


# --- from a point of the plane back to a config -----------------------------------------------
GAIN_FREE_SWITCH = "lecun_normal"


def config_for(cfg: SimConfig, sw2: float, sb2: float) -> dict[str, object]:
    """Config changes that give the hidden (width×width) layers σ_w² = sw2 and biases σ_b² = sb2.

    Schemes with a gain get init_gain = √(sw2 / σ_w²(gain 1)); 'normal' and 'uniform' get the
    init_std that gives sw2 at this width; 'constant' and 'zeros' have no random weights to
    scale, so they switch to lecun_normal (σ_w² = gain², the plain mean-field parametrisation).
    """
    changes: dict[str, object] = {"bias_std": math.sqrt(max(sb2, 0.0))}
    w = cfg.width
    if cfg.init in ("normal", "uniform"):
        std = math.sqrt(sw2 / w)
        changes["init_std"] = std * (math.sqrt(3.0) if cfg.init == "uniform" else 1.0)
        return changes
    if cfg.init in NO_THEORY_INITS:
        changes["init"] = GAIN_FREE_SWITCH
        unit = 1.0
    else:
        unit = hidden_sigma_w2(cfg.replace(init_gain=1.0))
    changes["init_gain"] = math.sqrt(sw2 / unit)
    return changes
