"""A tourist site's visitors: its ticket types (ticket_types.py), the passes sold on them (passes.py), the people
inside now (occupancy.py) and the hourly counts of who came through each gate (visits.py)."""
