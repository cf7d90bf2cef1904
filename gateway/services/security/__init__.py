"""Who may do what, and proof of it: users and logins, the audit chain, keys, certificates, owner-only files."""
