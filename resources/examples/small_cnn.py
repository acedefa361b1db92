"""A small CNN for the digits (8×8 images; Vanishing Point gives them as 64 features or 1×8×8)."""
from torch import nn


def make(cfg):
    """Vanishing Point calls this with the SimConfig: width and activation come from the sliders."""
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}.get(cfg.activation, nn.Tanh)
    c = max(1, cfg.width // 16)
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)) if cfg.dataset == "digits" else nn.Identity(),
                         nn.Conv2d(1, c, 3, padding=1), act(), nn.MaxPool2d(2),
                         nn.Conv2d(c, 2 * c, 3, padding=1), act(), nn.Flatten(), nn.Linear(2 * c * 16, 10))
