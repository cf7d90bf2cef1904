"""A gate lane's door: the rules (anti-passback, tailgating) and the door outputs that open it."""
