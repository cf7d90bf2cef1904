"""The live feed between ingest's writer thread and the SSE streams (no broker, no database)."""

from __future__ import annotations

import asyncio
import threading

from gateway.services.events.live import LiveFeed


def test_a_stored_batch_reaches_every_listener_whole_and_in_order():
    async def scenario() -> tuple[list, list, int]:
        feed = LiveFeed()
        first, second = feed.subscribe(), feed.subscribe()
        writer = threading.Thread(target=feed.publish, args=([f"e{i}" for i in range(300)],))
        writer.start()
        writer.join()
        await asyncio.sleep(0.05)  # the hand-off runs on this loop
        a, missed = first.take(most=1000)
        b, _ = second.take(most=1000)
        return a, b, missed

    a, b, missed = asyncio.run(scenario())
    assert a == b == [f"e{i}" for i in range(300)]
    assert missed == 0


def test_a_listener_that_falls_behind_loses_the_oldest_and_is_told_how_many_once():
    async def scenario() -> tuple[list, int, list, int]:
        feed = LiveFeed()
        slow = feed.subscribe()
        feed.publish([f"e{i}" for i in range(1003)])  # the queue holds 1,000
        await asyncio.sleep(0.05)
        head, missed = slow.take()
        rest, missed_after = slow.take(most=1000)
        return head, missed, rest, missed_after

    head, missed, rest, missed_after = asyncio.run(scenario())
    assert missed == 3 and missed_after == 0
    assert head[0] == "e3" and len(head) == 500  # one chunk is bounded; the rest waits for the next
    assert rest[-1] == "e1002" and len(head) + len(rest) == 1000


def test_a_listener_whose_loop_has_closed_is_dropped_not_fatal_to_ingest():
    async def subscribe(feed: LiveFeed):
        return feed.subscribe()

    feed = LiveFeed()
    asyncio.run(subscribe(feed))  # asyncio.run closes the loop afterwards
    assert feed.listeners == 1
    feed.publish(["e0"])
    assert feed.listeners == 0
