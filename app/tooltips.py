"""What each control does, with the facts the reference notes (shared/seeds) give about it.

Written in our own words; the notes are Korean blog posts and lecture notes on
vanishing/exploding gradients, initialization, normalization and clipping.
"""
from __future__ import annotations

TOOLTIPS: dict[str, str] = {
    "architecture": (
        "Network shape. 'mlp': a plain stack of Linear → [norm] → activation layers. "
        "'residual': every layer after the first adds its output to its input (h ← h + φ(Wh+b)), "
        "so the gradient has a direct path around each layer; the notes show a residual "
        "autoencoder keeping much larger gradient norms than a plain one. "
        "'rnn': a vanilla recurrent cell h_t = φ(W_hh h_{t−1} + W_xh x_t + b) unrolled over depth time "
        "steps: the same W_hh is applied at every step, so the gradient reaching step 1 has been "
        "multiplied by W_hh (and φ′) depth−1 times, which is W^t = V diag(λ)^t V⁻¹: eigenvalues above 1 "
        "in magnitude explode, below 1 vanish. 'lstm': gates control a cell state c_t = f⊙c_{t−1} + i⊙g "
        "whose additive path lets the gradient travel much further; the notes add that LSTMs can still "
        "explode, which is what gradient clipping is for. Plots then show time steps instead of layers."
    ),
    "depth": (
        "Number of hidden layers (slider 1–200, spin box up to 1000). Back-propagation multiplies "
        "one factor per layer, so a deep stack behaves like W^t: factors below 1 shrink the "
        "gradient geometrically toward the input (vanishing), factors above 1 blow it up (exploding)."
    ),
    "width": "Units per hidden layer (fan_in = fan_out = width for the hidden weights).",
    "activation": (
        "Non-linearity of the hidden layers. sigmoid/tanh flatten out for large |x|, where the "
        "derivative is nearly zero, so gradients die layer by layer (sigmoid's slope is at most 1/4). "
        "ReLU passes a slope of 1 for positive inputs but can leave 'dead' units; leaky ReLU keeps a "
        "small slope for negative inputs so no unit's gradient is exactly zero. shifted_relu is "
        "relu(x) − 0.5, the fast.ai lesson's trick to pull the mean back toward zero."
    ),
    "leaky_slope": "Slope of leaky_relu for negative inputs (0 turns it into a plain ReLU).",
    "norm_position": (
        "Transformer only: where each block's LayerNorm sits. post (the original Transformer): "
        "x ← LN(x + sublayer(x)); pre: x ← x + sublayer(LN(x)), with a final LN before the readout. "
        "Xiong et al. 2020: Post-LN's gradients near the output are large at initialization and it "
        "needs a learning-rate warm-up; Pre-LN trains without one."
    ),
    "heads": "Transformer only: attention heads per block; must divide the width (each head has width/heads dimensions).",
    "pool_every": "CNN only: a 2×2 max pooling after every k-th conv layer while the map is at least 2×2 (0: no pooling).",
    "normalization": (
        "Normalize each layer's pre-activations. BatchNorm standardizes each unit over the mini-batch, "
        "then rescales and shifts it with learned parameters: it makes sigmoid/tanh networks far less "
        "prone to vanishing gradients, less sensitive to the initialization and tolerant of larger "
        "learning rates, but it depends on the batch: with very small batches its statistics are noisy "
        "and can hurt training. LayerNorm normalizes over the units of each example instead, so it "
        "does not depend on the batch size."
    ),
    "init": (
        "Weight initialization. Goal: keep the variance of activations roughly constant from layer to "
        "layer. zeros/constant: every unit stays identical (the symmetry problem) and nothing is "
        "learned. normal/uniform: N(0, init_std²) / U(−init_std, init_std); with std 1 the fast.ai "
        "lesson saw pre-activation std ≈ 28, pushing tanh into saturation. Xavier/Glorot: "
        "std = √(2/(fan_in+fan_out)), made for sigmoid/tanh. Kaiming/He: std = √(2/fan_in), made for "
        "ReLU (the factor 2 makes up for ReLU zeroing half its inputs). LeCun: std = 1/√fan_in. "
        "Orthogonal: a scaled orthogonal matrix."
    ),
    "init_mode": (
        "Which fan the Kaiming schemes divide by: fan_in preserves the forward activations' variance, "
        "fan_out the backward gradients'. (PyTorch stores Linear weights as [out, in], which is why "
        "the fast.ai lesson calls kaiming_normal_ with mode='fan_out'.)"
    ),
    "init_std": (
        "Standard deviation for the normal, uniform (half-range) and constant schemes (logarithmic "
        "slider; type 0 in the box for exactly zero). Too small: signals and gradients shrink and "
        "training crawls; too large: training is unstable and saturating activations go flat."
    ),
    "init_gain": (
        "Multiplier on the fan-scaled schemes (Xavier, Kaiming, LeCun, orthogonal). 1 is the "
        "textbook value; below 1 activations shrink layer by layer, above 1 they grow."
    ),
    "bias_std": "Standard deviation of the initial biases (0: biases start at zero, the usual choice).",
    "forget_bias": (
        "LSTM only: added to the forget gate's initial bias. With 0 the gate starts half shut "
        "(σ(0) = 1/2), so the cell state, and the gradient along it, halves at every step; 1 (the "
        "usual choice) keeps about 73 %, larger values keep the long-term memory path open from the start."
    ),
    "dataset": (
        "Training data (features standardized to mean 0, std 1). gaussian: a random teacher network; "
        "spirals/circles/xor/moons: 2-D toy problems lifted to input_dim; digits: 8×8 handwritten digits. "
        "Sequences of depth steps, a long-term dependency: first_token (8 random symbols a step, the "
        "label is the first one) and adding (two marked values, one early and one late; is their sum > 1?). "
        "A recurrent network reads sequences step by step (a 2-D set is fed at step 1 only); an MLP sees the "
        "whole sequence flattened into one input."
    ),
    "input_dim": "Number of input features fed to the first layer (2-D toy sets are lifted to this size).",
    "seq_len": "Transformer only: steps of a token sequence (first_token, adding, majority); other architectures use depth steps.",
    "n_samples": "Size of the training set.",
    "grad_accum": (
        "Gradient accumulation: each update sums the gradients of this many micro-batches of batch_size "
        "examples (each loss divided by the count) before the optimizer steps, so the effective batch is "
        "batch_size × accumulate with the memory of one micro-batch. The noisy-gradient notes used it to "
        "calm a deep residual autoencoder whose gradients, a sum over many skip paths, were too noisy: the "
        "noise of an average of N gradients falls like 1/√N (watch the Gradient noise tab)."
    ),
    "batch_size": (
        "Examples per training step. Larger batches average away gradient noise (its std falls like "
        "1/√batch), which steadies training; BatchNorm in particular needs batches that are not too small."
    ),
    "optimizer": (
        "sgd: plain gradient descent. momentum: SGD that keeps a running direction (also keeps "
        "past noisy gradients in that direction). adam: per-parameter adaptive step sizes with momentum; "
        "its first steps rest on a one-sample estimate of the gradient's scale and can overshoot. "
        "radam: Rectified Adam, plain momentum steps until that estimate is reliable, then a damped "
        "Adam (the noisy-gradient notes found it steadier than Adam). rmsprop: divides by a running "
        "root-mean-square of the gradient, no momentum."
    ),
    "weight_decay": (
        "L2 penalty λ (logarithmic slider; type 0 for none): λ·θ is added to every parameter's gradient "
        "before the optimizer's rule (coupled, like torch's weight_decay argument; for SGD the same as "
        "shrinking weights by lr·λ each step). The gradient plots show the loss gradient alone."
    ),
    "warmup_steps": (
        "Linear learning-rate warm-up: update t uses lr·t/W for t < W steps, then lr (0: off). "
        "Transformers were trained with warm-up against noisy early gradients, as the noisy-gradient "
        "notes recall; it tames Adam's overshooting first steps, at the price of one more "
        "hyperparameter. The effective rate is in the status bar and the update plot's title."
    ),

    "lr": (
        "Learning rate (logarithmic slider). Too high and a steep 'cliff' in the loss can throw the "
        "weights far away in one step; with exploding gradients the run goes non-finite."
    ),
    "momentum": "Momentum coefficient for the 'momentum' optimizer (fraction of the previous update kept).",
    "clip_mode": (
        "Gradient clipping against exploding gradients. norm: if the global gradient norm exceeds the "
        "threshold, rescale the whole gradient to that norm (direction kept; torch's clip_grad_norm_). "
        "value: clamp each gradient entry to ±threshold (can change the direction). Clipping limits "
        "how far one step off a cliff can jump."
    ),
    "clip_threshold": "Threshold for gradient clipping (logarithmic slider): the maximum norm, or the maximum |entry|.",
    "model": "Your own model for architecture 'user': FILE.py:FACTORY, where FACTORY(cfg) returns a torch.nn.Module "
             "(File → Open model… picks it). The file runs in this program with your permissions: open only files you trust.",
    "data_file": "Your own data for dataset 'file': a .csv (numeric features, label in the last column) or an .npz "
                 "(arrays x and y) (File → Open data… picks it).",
    "label_column": "The CSV's label column, by header name or 1-based number; empty: the last column.",
    "seed": "Random seed for data, initialization and batches: the same seed and config give the same run on the CPU.",
    "device": "Where to compute: auto (CUDA if available, else CPU), cpu, or cuda (falls back to the CPU with a notice if CUDA is absent).",
}
