"""The WorkQueue contract (SQS semantics), run against every backend."""

from __future__ import annotations

import threading
import time

from tests.conformance.conftest import QueueFactory


def test_send_receive_ack(make_queue: QueueFactory) -> None:
    queue = make_queue()
    queue.send([f"m{i}" for i in range(25)])
    assert queue.counts().visible == 25
    got = []
    while len(got) < 25:
        batch = queue.receive(10, visibility_timeout=30, wait_seconds=1)
        assert batch
        got.extend(batch)
    assert sorted(m.body for m in got) == sorted(f"m{i}" for i in range(25))
    assert queue.counts().in_flight == 25 and queue.counts().visible == 0
    for message in got:
        queue.ack(message.receipt)
    counts = queue.counts()
    assert (counts.visible, counts.in_flight) == (0, 0) and not counts.busy


def test_redelivery_after_visibility_timeout(make_queue: QueueFactory) -> None:
    queue = make_queue()
    queue.send(["job"])
    (first,) = queue.receive(1, visibility_timeout=1)
    assert queue.receive(1, visibility_timeout=1) == []
    time.sleep(1.3)
    (second,) = queue.receive(1, visibility_timeout=30, wait_seconds=2)
    assert second.body == "job" and second.receive_count == first.receive_count + 1
    assert second.receipt != first.receipt


def test_visibility_extension_and_return(make_queue: QueueFactory) -> None:
    queue = make_queue()
    queue.send(["job"])
    (message,) = queue.receive(1, visibility_timeout=1)
    queue.change_visibility(message.receipt, 30)
    time.sleep(1.3)
    assert queue.receive(1, visibility_timeout=1) == []
    queue.change_visibility(message.receipt, 0)
    (again,) = queue.receive(1, visibility_timeout=30, wait_seconds=2)
    assert again.body == "job"


def test_ack_is_idempotent_and_stale_receipts_do_not_delete(make_queue: QueueFactory) -> None:
    queue = make_queue()
    queue.send(["job"])
    (message,) = queue.receive(1, visibility_timeout=30)
    queue.ack(message.receipt)
    queue.ack(message.receipt)  # twice: no error
    queue.send(["other"])
    queue.ack(message.receipt)  # a stale receipt does not touch other messages
    assert queue.counts().visible == 1


def test_dead_letter_after_max_receives(make_queue: QueueFactory) -> None:
    queue = make_queue(max_receives=2)
    queue.send(["poison"])
    for _ in range(2):
        (message,) = queue.receive(1, visibility_timeout=30, wait_seconds=2)
        queue.change_visibility(message.receipt, 0)
    assert queue.receive(1, visibility_timeout=30, wait_seconds=1) == []
    assert queue.counts().dead == 1


def test_purge(make_queue: QueueFactory) -> None:
    queue = make_queue()
    queue.send(["a", "b"])
    queue.purge()
    assert not queue.counts().busy


def test_a_waiting_receiver_gets_a_message_sent_during_its_wait(make_queue: QueueFactory) -> None:
    queue = make_queue()
    got: list[str] = []
    receiver = threading.Thread(
        target=lambda: got.extend(m.body for m in queue.receive(1, visibility_timeout=30, wait_seconds=5))
    )
    receiver.start()
    time.sleep(0.3)
    queue.send(["late"])
    receiver.join(10)
    assert got == ["late"]


def test_a_waiting_receiver_gets_a_message_that_comes_due_during_its_wait(make_queue: QueueFactory) -> None:
    queue = make_queue()
    queue.send(["job"])
    (first,) = queue.receive(1, visibility_timeout=1)
    started = time.monotonic()
    (again,) = queue.receive(1, visibility_timeout=30, wait_seconds=5)
    assert again.body == "job" and again.receipt != first.receipt
    assert time.monotonic() - started < 4


def test_dead_letter_moves_a_message_it_never_deletes_it(make_queue: QueueFactory) -> None:
    """A message that is not a job reaches the dead-letter queue (its alarm is how operators learn of it)."""
    queue = make_queue(max_receives=5)
    queue.send(["{not a job", "fine"])
    received = {m.body: m for m in queue.receive(10, visibility_timeout=30)}
    assert set(received) == {"{not a job", "fine"}
    assert queue.dead_letter(received["{not a job"], "not JSON")
    queue.ack(received["fine"].receipt)
    counts = queue.counts()
    assert (counts.visible, counts.in_flight, counts.dead) == (0, 0, 1)


def test_batched_ack_and_visibility_change(make_queue: QueueFactory) -> None:
    """ack_many and change_visibility_many over more than one batch of ten; a stale receipt among them is not an
    error and deletes nothing else."""
    queue = make_queue()
    queue.send([f"m{i}" for i in range(23)])
    got = []
    while len(got) < 23:
        batch = queue.receive(10, visibility_timeout=30, wait_seconds=1)
        assert batch
        got.extend(batch)
    queue.change_visibility_many([m.receipt for m in got[:12]], 0)  # twelve come back now
    back = []
    while len(back) < 12:
        batch = queue.receive(10, visibility_timeout=30, wait_seconds=1)
        assert batch
        back.extend(batch)
    assert sorted(m.body for m in back) == sorted(m.body for m in got[:12])
    stale = got[0].receipt  # its message was received again since: this receipt is gone
    queue.ack_many([stale, *(m.receipt for m in got[12:]), *(m.receipt for m in back)])
    counts = queue.counts()
    assert (counts.visible, counts.in_flight) == (0, 0)
