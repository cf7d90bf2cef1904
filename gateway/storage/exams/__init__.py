"""An exam day's records: the council's candidate list (candidates.py), and the sessions the devices run with their
flags and evidence (sessions.py)."""
