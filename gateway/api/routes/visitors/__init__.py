"""A tourist site's visitors: its ticket types, the passes sold on them, how many are inside, the day in numbers."""
