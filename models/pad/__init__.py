"""Presentation-attack detection weights: MiniFASNet rebuilt as ONNX from its pinned .pth files."""
