"""A worker process's Inbox: one receiver at a time for all idle threads (SQS bills every ReceiveMessage), batches
sized to the idle threads, acks deleted ten at a time, held messages returned on close. A fake SQS client stands in,
counting calls; the conformance suite runs the queue itself against moto's SQS, and the counting test
(tests/integration/test_cluster_calls.py) the whole worker."""

from __future__ import annotations

import threading
import time
from typing import Any

from s3migrate.queues.base import Message
from s3migrate.queues.sqs import SqsQueue
from s3migrate.worker.inbox import Inbox


class FakeSqs:
    """Long-polls like SQS: answers at once when a message is there, else after WaitTimeSeconds."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.asked: list[int] = []  # MaxNumberOfMessages of each ReceiveMessage
        self.deleted: list[list[str]] = []  # receipts of each DeleteMessageBatch
        self.visibility: list[tuple[list[str], int]] = []
        self.most_at_once = 0
        self._at_once = 0
        self._lock = threading.Condition()

    def put(self, *bodies: str) -> None:
        with self._lock:
            self.messages.extend(bodies)
            self._lock.notify_all()

    def receive_message(self, **args: Any) -> dict[str, Any]:
        with self._lock:
            self.asked.append(args["MaxNumberOfMessages"])
            self._at_once += 1
            self.most_at_once = max(self.most_at_once, self._at_once)
            try:
                deadline = time.monotonic() + args["WaitTimeSeconds"]
                while not self.messages and time.monotonic() < deadline:
                    self._lock.wait(deadline - time.monotonic())
                taken, self.messages = self.messages[: args["MaxNumberOfMessages"]], \
                    self.messages[args["MaxNumberOfMessages"]:]
            finally:
                self._at_once -= 1
        return {"Messages": [{"MessageId": b, "Body": b, "ReceiptHandle": b} for b in taken]}

    def delete_message_batch(self, **args: Any) -> dict[str, Any]:
        assert len(args["Entries"]) <= 10
        self.deleted.append([entry["ReceiptHandle"] for entry in args["Entries"]])
        return {"Successful": [{"Id": entry["Id"]} for entry in args["Entries"]]}

    def change_message_visibility_batch(self, **args: Any) -> dict[str, Any]:
        entries = args["Entries"]
        self.visibility.append(([e["ReceiptHandle"] for e in entries], entries[0]["VisibilityTimeout"]))
        return {"Successful": [{"Id": entry["Id"]} for entry in entries]}


def takers(inbox: Inbox, count: int, wait: float, rounds: int, got: list[Message]) -> list[threading.Thread]:
    never = threading.Event()

    def loop() -> None:
        for _ in range(rounds):
            message = inbox.take(wait, never)
            if message is not None:
                got.append(message)

    threads = [threading.Thread(target=loop) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_one_receiver_per_process_long_polls_an_idle_queue() -> None:
    sqs = FakeSqs()
    inbox = Inbox(SqsQueue(sqs, "https://sqs.example/queue"), 30, threads=16)
    got: list[Message] = []
    for thread in takers(inbox, 16, 1.0, 3, got):
        thread.join(20)
    inbox.close()
    assert sqs.most_at_once == 1 and len(sqs.asked) <= 6, sqs.asked  # 48 calls with a receive per thread
    assert got == []


def test_work_found_by_the_receiver_reaches_every_idle_thread_in_one_receive() -> None:
    sqs = FakeSqs()
    inbox = Inbox(SqsQueue(sqs, "https://sqs.example/queue"), 30, threads=8)
    got: list[Message] = []
    threads = takers(inbox, 8, 5.0, 1, got)
    time.sleep(0.3)  # all eight are idle, one of them long-polling for the others
    started = time.monotonic()
    sqs.put(*(f"m{i}" for i in range(8)))
    for thread in threads:
        thread.join(10)
    inbox.close()
    assert sorted(m.body for m in got) == sorted(f"m{i}" for i in range(8))
    assert time.monotonic() - started < 3  # nobody waited out its whole receive
    assert sqs.asked == [8]  # as many as there were idle threads, in one call


def test_quick_jobs_let_the_receiver_take_ten_and_close_returns_those_not_started() -> None:
    sqs = FakeSqs()
    held: list[str] = []
    inbox = Inbox(SqsQueue(sqs, "https://sqs.example/queue"), 30,
                  hold=lambda m: held.append(m.body), release=lambda m: held.remove(m.body))
    sqs.put(*(f"m{i}" for i in range(20)))
    never = threading.Event()
    first = inbox.take(1.0, never)
    assert first is not None and sqs.asked == [1]  # one idle thread, nothing known of the jobs yet
    inbox.took(0.05)  # a quick job
    second = inbox.take(1.0, never)
    assert second is not None and sqs.asked == [1, 10]
    assert len(held) == 9  # the nine taken ahead are in the heartbeat until they start
    inbox.close()
    assert held == [] and sqs.visibility == [([f"m{i}" for i in range(2, 11)], 0)]  # back to the queue at once


def test_acks_are_deleted_ten_at_a_time_and_the_rest_soon() -> None:
    sqs = FakeSqs()
    inbox = Inbox(SqsQueue(sqs, "https://sqs.example/queue"), 30, flush_interval=0.3)
    for i in range(25):
        inbox.ack(f"r{i}")
    assert [len(batch) for batch in sqs.deleted] == [10, 10]  # the full batches at once
    deadline = time.monotonic() + 5
    while len(sqs.deleted) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sqs.deleted[2] == [f"r{i}" for i in range(20, 25)]  # the rest within the flush interval
    inbox.ack("last")
    inbox.close()  # nothing held is lost when the worker stops
    assert sqs.deleted[-1] == ["last"]


def test_a_cancelled_worker_takes_nothing_more() -> None:
    sqs = FakeSqs()
    sqs.put("m0", "m1")
    inbox = Inbox(SqsQueue(sqs, "https://sqs.example/queue"), 30)
    cancelled = threading.Event()
    cancelled.set()
    assert inbox.take(1.0, cancelled) is None and sqs.asked == []
    inbox.close()
