"""The edge outbox on a real SQLite file: order, sequence numbers, and what happens when full."""

from __future__ import annotations

import pytest

from edge.link.outbox import Outbox, OutboxFull


def build(tag: str):
    return lambda seq: (f"{tag}-{seq}", f"t/{tag}", f"{tag}:{seq}".encode())


def test_events_come_out_in_order_with_gap_free_sequence_numbers_across_restarts(tmp_path):
    box = Outbox(tmp_path / "o.db")
    assert [box.append("verdict", build("v")) for _ in range(3)] == [1, 2, 3]
    box.close()
    box = Outbox(tmp_path / "o.db")  # a restart: numbering continues, nothing is lost
    assert box.append("verdict", build("v")) == 4
    assert [p.seq for p in box.pending()] == [1, 2, 3, 4]
    assert [p.seq for p in box.pending(after_seq=2)] == [3, 4]
    assert box.confirm([1, 3, 99]) == 2
    assert [p.payload for p in box.pending()] == [b"v:2", b"v:4"]
    box.close()
    box = Outbox(tmp_path / "o.db")
    assert box.append("verdict", build("v")) == 5  # a confirmed number is never reused


def test_a_full_outbox_drops_oldest_heartbeats_first_and_refuses_verdicts_loudly(tmp_path):
    box = Outbox(tmp_path / "o.db", capacity=4)
    box.append("heartbeat", build("h"))  # 1
    box.append("verdict", build("v"))  # 2
    box.append("heartbeat", build("h"))  # 3
    box.append("verdict", build("v"))  # 4
    box.append("verdict", build("v"))  # 5: evicts heartbeat 1
    box.append("verdict", build("v"))  # 6: evicts heartbeat 3
    assert [p.seq for p in box.pending()] == [2, 4, 5, 6] and box.dropped == 2
    with pytest.raises(OutboxFull):
        box.append("verdict", build("v"))
    assert box.append("heartbeat", build("h")) == 0  # a heartbeat is simply dropped
    assert box.refused == 1 and box.dropped == 3 and box.depth() == 4
    box.confirm([2])
    assert box.append("verdict", build("v")) == 7  # room again; the refused one did not consume a number
    box.close()
    assert Outbox(tmp_path / "o.db", capacity=4).refused == 1  # the count survives a restart


def test_a_failing_event_builder_leaves_nothing_half_written(tmp_path):
    box = Outbox(tmp_path / "o.db")

    def broken(seq):
        raise ValueError("cannot sign")

    with pytest.raises(ValueError):
        box.append("verdict", broken)
    assert box.depth() == 0 and box.append("verdict", build("v")) == 1
