"""Exam supervision on the device: check-in, re-verification, flags and evidence, reported as signed events."""
