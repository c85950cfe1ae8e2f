"""The SQS queue's receivers: while work flows each asks SQS, on an idle queue one per process long-polls for
all (SQS bills every ReceiveMessage). A fake SQS client stands in, counting calls; the conformance suite runs the
same queue against moto's SQS."""

from __future__ import annotations

import threading
import time
from typing import Any

from s3migrate.queues.sqs import SqsQueue


class FakeSqs:
    """Long-polls like SQS: answers at once when a message is there, else after WaitTimeSeconds."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.calls = 0
        self.most_at_once = 0
        self._at_once = 0
        self._lock = threading.Condition()

    def put(self, *bodies: str) -> None:
        with self._lock:
            self.messages.extend(bodies)
            self._lock.notify_all()

    def receive_message(self, **args: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
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


def receivers(queue: SqsQueue, count: int, wait: float, rounds: int, got: list[str]) -> list[threading.Thread]:
    def loop() -> None:
        for _ in range(rounds):
            got.extend(m.body for m in queue.receive(1, 30, wait_seconds=wait))

    threads = [threading.Thread(target=loop) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_one_receiver_per_process_long_polls_an_idle_queue() -> None:
    sqs = FakeSqs()
    queue = SqsQueue(sqs, "https://sqs.example/queue")
    got: list[str] = []
    for thread in receivers(queue, 16, 1.0, 2, got):
        thread.join(20)
    # The first receives go to SQS (work may be flowing); after the first empty answers one polls for all.
    assert sqs.most_at_once == 16 and sqs.calls <= 16 + 4, sqs.calls
    sqs.calls = sqs.most_at_once = 0
    for thread in receivers(queue, 16, 1.0, 3, got):  # idle from the start now
        thread.join(20)
    assert sqs.most_at_once == 1 and sqs.calls <= 6, sqs.calls  # 48 calls without the gate
    assert got == []


def test_work_found_by_the_poller_reaches_every_receiver() -> None:
    sqs = FakeSqs()
    queue = SqsQueue(sqs, "https://sqs.example/queue")
    assert queue.receive(1, 30, wait_seconds=0.1) == []  # idle: the next receivers wait for one poller
    got: list[str] = []
    threads = receivers(queue, 8, 5.0, 1, got)
    time.sleep(0.3)
    started = time.monotonic()
    sqs.put(*(f"m{i}" for i in range(8)))
    for thread in threads:
        thread.join(10)
    assert sorted(got) == sorted(f"m{i}" for i in range(8))
    assert time.monotonic() - started < 3  # nobody waited out its whole receive
