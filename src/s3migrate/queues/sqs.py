"""Amazon SQS as the WorkQueue (any SQS-compatible endpoint through the usual AWS endpoint settings)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from s3migrate.endpoints.failures import describe, error_code
from s3migrate.errors import EndpointError
from s3migrate.queues.base import SQS_BATCH, Message, QueueCounts

_GONE_RECEIPT = {"ReceiptHandleIsInvalid", "InvalidParameterValue", "MessageNotInflight",
                 "AWS.SimpleQueueService.MessageNotInflight"}


class SqsQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.url = queue_url
        self._dlq_url: str | bool | None = False  # False: not looked up yet

    @classmethod
    def open(cls, client: Any, name_or_url: str) -> SqsQueue:
        if name_or_url.startswith(("https://", "http://")):
            return cls(client, name_or_url)
        try:
            url = client.get_queue_url(QueueName=name_or_url)["QueueUrl"]
        except ClientError as exc:
            raise EndpointError(f"SQS queue {name_or_url!r}: {describe(exc)}") from None
        except Exception as exc:
            raise EndpointError(f"SQS queue {name_or_url!r}: {describe(exc)}") from None
        return cls(client, str(url))

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(QueueUrl=self.url, **kwargs)
        except ClientError as exc:
            raise EndpointError(f"SQS {operation} on {self.url}: {describe(exc)}") from None

    def send(self, bodies: Sequence[str]) -> None:
        for start in range(0, len(bodies), SQS_BATCH):
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + SQS_BATCH])]
            response = self._call("send_message_batch", Entries=entries)
            failed = response.get("Failed") or []
            retry = [e for e in entries if e["Id"] in {f["Id"] for f in failed if not f.get("SenderFault")}]
            if retry:
                self._call("send_message_batch", Entries=retry)
            sender_faults = [f for f in failed if f.get("SenderFault")]
            if sender_faults:
                raise EndpointError(f"SQS rejected {len(sender_faults)} messages: {sender_faults[0].get('Message')}")

    def receive(self, max_messages: int, visibility_timeout: float, wait_seconds: float = 0.0) -> list[Message]:
        """One ReceiveMessage. A worker process asks through its Inbox, one receiver at a time for all its idle
        threads, so an idle ``work`` of 64 threads makes one ReceiveMessage per wait, not 64 (SQS bills each)."""
        response = self._call(
            "receive_message",
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            VisibilityTimeout=int(min(max(visibility_timeout, 0), 43200)),
            WaitTimeSeconds=round(min(max(wait_seconds, 0), 20)),  # the rest of the wait, to the nearest second
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [
            Message(
                message_id=m["MessageId"],
                body=m["Body"],
                receipt=m["ReceiptHandle"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            )
            for m in response.get("Messages", [])
        ]

    def ack(self, receipt: str) -> None:
        try:
            self._client.delete_message(QueueUrl=self.url, ReceiptHandle=receipt)
        except ClientError as exc:
            if error_code(exc) not in _GONE_RECEIPT:
                raise EndpointError(f"SQS DeleteMessage: {describe(exc)}") from None

    def change_visibility(self, receipt: str, timeout: float) -> None:
        try:
            self._client.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=receipt, VisibilityTimeout=int(min(max(timeout, 0), 43200))
            )
        except ClientError as exc:
            if error_code(exc) not in _GONE_RECEIPT:
                raise EndpointError(f"SQS ChangeMessageVisibility: {describe(exc)}") from None

    def ack_many(self, receipts: Sequence[str]) -> None:
        self._batched("delete_message_batch", [{"ReceiptHandle": r} for r in receipts])

    def change_visibility_many(self, receipts: Sequence[str], timeout: float) -> None:
        seconds = int(min(max(timeout, 0), 43200))
        self._batched("change_message_visibility_batch",
                      [{"ReceiptHandle": r, "VisibilityTimeout": seconds} for r in receipts])

    def _batched(self, operation: str, entries: list[dict[str, Any]]) -> None:
        """Ten entries per request. An entry whose receipt is gone (the message came back and went elsewhere) is
        not an error, as with ``ack``; any other failed entry is, named with its code."""
        for start in range(0, len(entries), SQS_BATCH):
            chunk = [{"Id": str(i), **entry} for i, entry in enumerate(entries[start:start + SQS_BATCH])]
            failed = [f for f in self._call(operation, Entries=chunk).get("Failed") or []
                      if f.get("Code") not in _GONE_RECEIPT]
            if failed:
                raise EndpointError(f"SQS {operation}: {len(failed)} of {len(chunk)} entries failed: "
                                    f"{failed[0].get('Code')}: {failed[0].get('Message')}")

    def dead_letter(self, message: Message, reason: str) -> bool:
        """Send the body to the queue's dead-letter queue (from its RedrivePolicy), then delete it here. Without
        one the message is hidden for the longest SQS allows and left for an operator (never deleted)."""
        dlq = self.dead_letter_url()
        if dlq is None:
            self.change_visibility(message.receipt, 43200)
            return False
        try:
            self._client.send_message(QueueUrl=dlq, MessageBody=message.body, MessageAttributes={
                "s3migrate-reason": {"DataType": "String", "StringValue": reason[:1000] or "unreadable"}})
        except ClientError as exc:
            raise EndpointError(f"SQS SendMessage to the dead-letter queue: {describe(exc)}") from None
        self.ack(message.receipt)
        return True

    def _attributes(self, url: str, names: list[str]) -> dict[str, str]:
        try:
            return dict(self._client.get_queue_attributes(QueueUrl=url, AttributeNames=names).get("Attributes", {}))
        except ClientError as exc:
            raise EndpointError(f"SQS GetQueueAttributes on {url}: {describe(exc)}") from None

    def dead_letter_url(self) -> str | None:
        if self._dlq_url is False:
            policy = self._attributes(self.url, ["RedrivePolicy"]).get("RedrivePolicy")
            arn = json.loads(policy).get("deadLetterTargetArn") if policy else None
            if arn:
                name, account = arn.split(":")[-1], arn.split(":")[-2]
                try:
                    url = self._client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
                    self._dlq_url = str(url)
                except ClientError:
                    self._dlq_url = None
            else:
                self._dlq_url = None
        return self._dlq_url if isinstance(self._dlq_url, str) else None

    def counts(self) -> QueueCounts:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        attrs = self._attributes(self.url, names)
        dead = 0
        dlq = self.dead_letter_url()
        if dlq:
            dead = int(self._attributes(dlq, ["ApproximateNumberOfMessages"]).get("ApproximateNumberOfMessages", 0))
        return QueueCounts(
            visible=int(attrs.get("ApproximateNumberOfMessages", 0))
            + int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
            in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            dead=dead,
        )

    def purge(self) -> None:
        self._call("purge_queue")

    def close(self) -> None:
        pass
