"""Measuring the edge: verification accuracy, liveness error rates, and the generated streams tests and demos use."""
