"""The edge node: camera -> detector -> tracker -> quality -> matcher -> gate policy."""
