"""MiniFASNet (Silent-Face-Anti-Spoofing, Apache-2.0) as ONNX, built from its PyTorch weights without torch.

The network is written here node by node with `onnx.helper`, reading every
shape from the weights (models/pad/pth.py reads the legacy .pth safely):

    conv1 (3x3/2) > conv2_dw (3x3 depthwise) > conv_23 (down) > conv_3 (residual blocks)
    > conv_34 (down) > conv_4 > conv_45 (down) > conv_5 > conv_6_sep (1x1) > conv_6_dw (5x5 depthwise)
    > linear (512->128) > bn > prob (128->3) > softmax

A "Depth_Wise" block is 1x1 conv+BN+PReLU, 3x3 depthwise conv+BN+PReLU, 1x1
conv+BN (project); residual blocks add their input; in V1SE the last block of
each residual stage multiplies by a squeeze-and-excitation gate before the add.
Input: an 80x80 BGR crop, float 0..255, NCHW. Output: softmax over
(printed photo, real face, screen replay).
"""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

import cv2
import numpy as np

from models.manifest import FileSpec, ModelFileError, resolve_file, sha256_of
from models.pad.pth import read_state_dict
from models.runtime import RuntimeSettings, create_session

if TYPE_CHECKING:  # onnx is needed only to build a graph (`prepare`, once): importing it costs 0.6 s a process
    import onnx

INPUT_SIZE = 80
CLASSES = ("print", "live", "screen")
BN_EPS = 1e-5
OPSET = 13


class _Graph:
    def __init__(self, weights: dict[str, np.ndarray]):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.w = weights
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def _name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs) -> str:
        out = self._name(hint)
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, prefix: str, x: str, channels_in: int, stride: int = 1) -> tuple[str, int]:
        w = self.w[f"{prefix}.weight"]
        k = w.shape[2]
        groups = channels_in // w.shape[1]
        y = self.node("Conv", [x, self.const(f"{prefix}.weight", w)], prefix, kernel_shape=[k, k],
                      strides=[stride, stride], pads=[k // 2 if k == 3 else 0] * 4, group=groups)
        return y, w.shape[0]

    def bn(self, prefix: str, x: str) -> str:
        names = [self.const(f"{prefix}.{p}", self.w[f"{prefix}.{p}"])
                 for p in ("weight", "bias", "running_mean", "running_var")]
        return self.node("BatchNormalization", [x, *names], prefix, epsilon=BN_EPS)

    def prelu(self, prefix: str, x: str) -> str:
        slope = self.w[f"{prefix}.weight"].reshape(-1, 1, 1)
        return self.node("PRelu", [x, self.const(f"{prefix}.weight", slope)], prefix)

    def conv_block(self, prefix: str, x: str, c: int, stride: int = 1) -> tuple[str, int]:
        y, c = self.conv(f"{prefix}.conv", x, c, stride)
        return self.prelu(f"{prefix}.prelu", self.bn(f"{prefix}.bn", y)), c

    def linear_block(self, prefix: str, x: str, c: int, stride: int = 1) -> tuple[str, int]:
        y, c = self.conv(f"{prefix}.conv", x, c, stride)
        return self.bn(f"{prefix}.bn", y), c

    def se(self, prefix: str, x: str, c: int) -> str:
        g = self.node("GlobalAveragePool", [x], f"{prefix}.pool")
        g, r = self.conv(f"{prefix}.fc1", g, c)
        g = self.node("Relu", [self.bn(f"{prefix}.bn1", g)], f"{prefix}.relu")
        g, _ = self.conv(f"{prefix}.fc2", g, r)
        g = self.node("Sigmoid", [self.bn(f"{prefix}.bn2", g)], f"{prefix}.sigmoid")
        return self.node("Mul", [x, g], f"{prefix}.scale")

    def depth_wise(self, prefix: str, x: str, c: int, stride: int, residual: bool) -> tuple[str, int]:
        y, c1 = self.conv_block(f"{prefix}.conv", x, c)
        y, c2 = self.conv_block(f"{prefix}.conv_dw", y, c1, stride)
        y, c3 = self.linear_block(f"{prefix}.project", y, c2)
        if f"{prefix}.se_module.fc1.weight" in self.w:
            y = self.se(f"{prefix}.se_module", y, c3)
        if residual:
            y = self.node("Add", [x, y], f"{prefix}.add")
        return y, c3

    def residual(self, prefix: str, x: str, c: int) -> tuple[str, int]:
        i = 0
        while f"{prefix}.model.{i}.conv.conv.weight" in self.w:
            x, c = self.depth_wise(f"{prefix}.model.{i}", x, c, 1, residual=True)
            i += 1
        if i == 0:
            raise ModelFileError(f"MiniFASNet weights lack the stage {prefix}")
        return x, c

    def gemm(self, prefix: str, x: str) -> str:
        return self.node("Gemm", [x, self.const(f"{prefix}.weight", self.w[f"{prefix}.weight"])], prefix, transB=1)


def build_onnx(weights: dict[str, np.ndarray], name: str = "minifasnet") -> onnx.ModelProto:
    """The network for these weights (V2 or V1SE: the SE gates are taken from the weights)."""
    import onnx
    from onnx import TensorProto, helper

    g = _Graph(weights)
    x, c = g.conv_block("conv1", "input", 3, stride=2)
    x, c = g.conv_block("conv2_dw", x, c)
    x, c = g.depth_wise("conv_23", x, c, 2, residual=False)
    x, c = g.residual("conv_3", x, c)
    x, c = g.depth_wise("conv_34", x, c, 2, residual=False)
    x, c = g.residual("conv_4", x, c)
    x, c = g.depth_wise("conv_45", x, c, 2, residual=False)
    x, c = g.residual("conv_5", x, c)
    x, c = g.conv_block("conv_6_sep", x, c)
    x, c = g.linear_block("conv_6_dw", x, c)
    x = g.node("Flatten", [x], "flatten", axis=1)
    x = g.bn("bn", g.gemm("linear", x))
    x = g.gemm("prob", x)
    g.nodes.append(helper.make_node("Softmax", [x], ["probabilities"], name="softmax", axis=1))
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(CLASSES)])],
        initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="facegate models/pad/minifasnet.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def prepare(spec: FileSpec, search_dirs: list[Path], out_dir: Path) -> Path:
    """The ONNX file for a pinned .pth, converted once and cached under `out_dir`.

    The cache is named after the source's hash and sealed with its own, so a
    changed weight file or an altered cache is converted again, never trusted.
    """
    source = resolve_file(spec, search_dirs)  # refuses a wrong hash
    target = Path(out_dir) / f"{spec.key}-{spec.sha256[:16]}.onnx"
    seal = target.with_suffix(".sha256")
    if target.is_file() and seal.is_file() and seal.read_text().strip() == sha256_of(target):
        return target
    model = build_onnx(read_state_dict(source), spec.key)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(target)
    seal.write_text(sha256_of(target))
    return target


def scaled_box(box: np.ndarray, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The face box grown around its centre by `scale`, capped to fit, shifted (never shrunk) to stay inside.

    As upstream crops for training: (x0, y0, x1, y1) inclusive.
    """
    x, y = float(box[0]), float(box[1])
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    scale = min((height - 1) / h, (width - 1) / w, scale)
    nw, nh = w * scale, h * scale
    cx, cy = x + w / 2, y + h / 2
    x0, y0, x1, y1 = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if x0 < 0:
        x1, x0 = x1 - x0, 0
    if y0 < 0:
        y1, y0 = y1 - y0, 0
    if x1 > width - 1:
        x0, x1 = x0 - (x1 - width + 1), width - 1
    if y1 > height - 1:
        y0, y1 = y0 - (y1 - height + 1), height - 1
    return int(x0), int(y0), int(x1), int(y1)


class MiniFASNet:
    """One MiniFASNet and its crop scale."""

    def __init__(self, onnx_path: Path, sha256: str, scale: float, runtime: RuntimeSettings):
        self.session = create_session(onnx_path, sha256, runtime)
        self.scale = scale

    def crop(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = scaled_box(box, self.scale, image.shape[1], image.shape[0])
        return cv2.resize(image[y0:y1 + 1, x0:x1 + 1], (INPUT_SIZE, INPUT_SIZE))

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        """(n, 3) softmax for (n, 80, 80, 3) BGR crops."""
        blob = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32)
        return self.session.run(None, {"input": blob})[0]
