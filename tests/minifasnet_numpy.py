"""MiniFASNet forward pass in plain numpy (float64), written from upstream's PyTorch modules.

The independent computation the ONNX graph of models/pad/minifasnet.py is checked
against: no ONNX, no ONNX Runtime, its own convolution.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

EPS = 1e-5


def conv2d(x: np.ndarray, w: np.ndarray, stride: int = 1) -> np.ndarray:
    """x (C, H, W), w (O, C/groups, k, k); 'same' padding for 3x3, none otherwise."""
    k = w.shape[2]
    pad = 1 if k == 3 else 0
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]  # (C, Ho, Wo, k, k)
    channels, out = x.shape[0], w.shape[0]
    groups = channels // w.shape[1]
    if groups == channels == out:  # depthwise
        return np.einsum("chwij,cij->chw", windows, w[:, 0])
    per_in, per_out = channels // groups, out // groups
    return np.concatenate([
        np.einsum("chwij,ocij->ohw", windows[g * per_in:(g + 1) * per_in], w[g * per_out:(g + 1) * per_out])
        for g in range(groups)])


def batch_norm(x: np.ndarray, p: dict, name: str) -> np.ndarray:
    shape = (-1,) + (1,) * (x.ndim - 1)
    scale = p[f"{name}.weight"] / np.sqrt(p[f"{name}.running_var"] + EPS)
    return (x - p[f"{name}.running_mean"].reshape(shape)) * scale.reshape(shape) + p[f"{name}.bias"].reshape(shape)


def conv_block(x, p, name, stride=1, prelu=True):
    y = batch_norm(conv2d(x, p[f"{name}.conv.weight"], stride), p, f"{name}.bn")
    if prelu:
        a = p[f"{name}.prelu.weight"].reshape(-1, 1, 1)
        y = np.where(y > 0, y, a * y)
    return y


def se_module(x, p, name):
    s = x.mean(axis=(1, 2), keepdims=True)
    s = np.maximum(batch_norm(conv2d(s, p[f"{name}.fc1.weight"]), p, f"{name}.bn1"), 0)
    s = batch_norm(conv2d(s, p[f"{name}.fc2.weight"]), p, f"{name}.bn2")
    return x * (1 / (1 + np.exp(-s)))


def depth_wise(x, p, name, stride, residual):
    y = conv_block(x, p, f"{name}.conv")
    y = conv_block(y, p, f"{name}.conv_dw", stride)
    y = conv_block(y, p, f"{name}.project", prelu=False)
    if f"{name}.se_module.fc1.weight" in p:
        y = se_module(y, p, f"{name}.se_module")
    return x + y if residual else y


def forward(image_chw: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """Softmax over (print, live, screen) for one (3, 80, 80) crop."""
    p = {k: v.astype(np.float64) for k, v in weights.items()}
    x = conv_block(image_chw.astype(np.float64), p, "conv1", 2)
    x = conv_block(x, p, "conv2_dw")
    x = depth_wise(x, p, "conv_23", 2, False)
    for stage, down in (("conv_3", "conv_34"), ("conv_4", "conv_45"), ("conv_5", None)):
        i = 0
        while f"{stage}.model.{i}.conv.conv.weight" in p:
            x = depth_wise(x, p, f"{stage}.model.{i}", 1, True)
            i += 1
        if down:
            x = depth_wise(x, p, down, 2, False)
    x = conv_block(x, p, "conv_6_sep")
    x = conv_block(x, p, "conv_6_dw", prelu=False).reshape(-1)
    x = batch_norm(p["linear.weight"] @ x, p, "bn")
    logits = p["prob.weight"] @ x
    e = np.exp(logits - logits.max())
    return e / e.sum()
