"""A tourist site's day (issue 28): an audit log people can read.

Revision ID: 0014
Revises: 0013

The pages' own reads (a list loaded, a session opened, the event stream followed) are kept apart from people's
actions: the audit page's default view is what people did, and each load of the live page writes several reads.
A partial index holds people's entries without the reads, so that view stays an index walk at millions of
entries, as the people's index (0005) keeps it for people's entries.
"""

from alembic import op

revision = "0014"
down_revision = "0013"

# schema.AUDIT_ACTIONS when written (a migration keeps its own copy)
READS = ("event.read", "events.read", "events.stream", "exam.day_report.read", "exam.evidence.read",
         "exam.report.read", "exam.session.read", "exam.sessions.read", "subjects.read")
ACTIONS = "substr(actor, 1, 7) <> 'device:' AND action NOT IN ({})".format(", ".join(f"'{a}'" for a in READS))


def upgrade() -> None:
    op.execute(f"CREATE INDEX idx_audit_actions_seq ON audit (seq) WHERE {ACTIONS}")


def downgrade() -> None:
    op.drop_index("idx_audit_actions_seq", "audit")
