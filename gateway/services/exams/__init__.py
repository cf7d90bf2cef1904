"""Exam sessions: devices' exam events folded into sessions, reviews and verdicts by people."""
