"""``s3migrate estimate``: what a run would copy, the requests it would make and what they would cost, before it runs.

The plan is the real one (both sides listed, the same comparison and filters as ``sync``); the listing requests
are counted as they are made. Each object to copy is then priced by the path the engine would take: one
CopyObject inside S3, one GET and one PUT, or a multipart upload of ``PartLayout`` parts. In a cluster or Lambda
deployment the queue and ledger calls per object are those the counting test measures (``CLUSTER_CALLS``). Prices
come from a table shipped with the package (``data/prices.json``, dated), or the user's own (``--prices FILE``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from s3migrate.config import Settings
from s3migrate.engine.server_side import COPY_OBJECT_LIMIT
from s3migrate.errors import ConfigError
from s3migrate.jobs.layout import PartLayout
from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.mapping import KeyMapping
from s3migrate.planner.strategy import Action
from s3migrate.wiring import Stores, build_planner, check_both_listable, folder_endpoints, open_stores

GIB = 1024**3

# Queue and ledger calls per small object copied in a cluster (send + work), as counted by
# tests/integration/test_cluster_calls.py (400 objects of 10 KB; it fails when the code makes more). Each figure is
# that test's ceiling, a little above what it measures (0.12 receives, 0.12 batched deletes, 0.01 other). In the
# Lambda deployment the event source mapping receives and deletes the messages itself, ten at a time.
CLUSTER_CALLS: dict[str, float] = {
    "SQS SendMessageBatch": 0.1,
    "SQS ReceiveMessage": 0.15,  # for as many idle threads as there are, up to 10 (worker/inbox.py)
    "SQS DeleteMessage": 0.15,  # DeleteMessageBatch, up to ten at a time
    "SQS other": 0.02,  # GetQueueUrl, GetQueueAttributes, visibility changes: per run, not per object
    "DynamoDB write": 2.0,  # register (send), then claim and completion in one write (Ledger.finish)
    "DynamoDB read": 1.0,  # Ledger.look
}
S3_API_PRICE = {"GET": "GET", "HEAD": "HEAD", "PUT": "PUT", "UploadPart": "PUT", "CreateMultipartUpload": "POST",
                "CompleteMultipartUpload": "POST", "ListParts": "LIST", "ListMultipartUploads": "LIST",
                "COPY": "COPY", "UploadPartCopy": "COPY", "LIST": "LIST"}


def load_prices(path: Path | None = None) -> dict[str, Any]:
    """The price table: the user's file, or the one shipped with the package."""
    try:
        text = path.read_text() if path is not None else resources.files("s3migrate").joinpath(
            "data/prices.json").read_text()
        prices: dict[str, Any] = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--prices {path}: {exc}") from None
    for key in ("s3_per_1000", "transfer_per_gib", "sqs_per_million", "dynamodb_per_million", "lambda"):
        if key not in prices:
            raise ConfigError(f"--prices {path}: no {key!r} (see the shipped data/prices.json)")
    return prices


class _Counting:
    """A store whose listing requests are counted (the plan's own LIST calls)."""

    def __init__(self, store: Any, counts: Counter[str]) -> None:
        self._store, self._counts = store, counts

    def list_objects_page(self, *args: Any, **kwargs: Any) -> Any:
        self._counts["LIST"] += 1
        return self._store.list_objects_page(*args, **kwargs)

    def head_object(self, **args: Any) -> Any:
        self._counts["HEAD"] += 1
        return self._store.head_object(**args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@dataclass
class Estimate:
    objects: int = 0
    bytes: int = 0
    largest: int = 0
    listed: int = 0
    skipped: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    cost_usd: dict[str, float] = field(default_factory=dict)
    transfer: str = "same_region"
    seconds: float | None = None
    throughput: float | None = None
    prices_as_of: str = ""
    notes: list[str] = field(default_factory=list)

    def data_transfer_text(self) -> str:
        return {"same_region": "within one region", "between_aws_regions": "between AWS regions",
                "out_to_internet": "out to the internet (another partition or cloud)"}[self.transfer]

    def as_dict(self) -> dict[str, Any]:
        return {"objects": self.objects, "bytes": self.bytes, "largest": self.largest, "listed": self.listed,
                "unchanged": self.skipped, "requests": dict(sorted(self.requests.items())),
                "cost_usd": {k: round(v, 8) for k, v in self.cost_usd.items()}, "data_transfer": self.transfer,
                "seconds": None if self.seconds is None else round(self.seconds, 1),
                "throughput_bytes_per_second": self.throughput, "prices_as_of": self.prices_as_of,
                "notes": self.notes}


def transfer_kind(stores: Stores) -> str:
    """How the bytes cross: within one region (or one S3-compatible service), between AWS regions, or out of AWS
    (another partition such as AWS China, or another cloud), which is priced as internet egress."""
    src, dst = stores.src, stores.dst
    if src.location.local or dst.location.local:
        return "out_to_internet" if not src.location.local else "same_region"
    if src.endpoint_url or dst.endpoint_url:
        return "same_region" if stores.same_service else "out_to_internet"
    src_region, dst_region = stores.src_client.meta.region_name, stores.dst_client.meta.region_name
    if src_region == dst_region:
        return "same_region"
    return "between_aws_regions" if stores.same_service else "out_to_internet"


def object_requests(size: int, settings: Settings, server_side: bool) -> Counter[str]:
    """The S3 requests the engine makes for one object of ``size`` bytes (a first attempt, no retries)."""
    calls: Counter[str] = Counter()
    if server_side and size <= min(settings.copy_cutoff, COPY_OBJECT_LIMIT):
        calls["COPY"] += 1
        return calls
    if server_side:
        parts = PartLayout.for_size(size, settings.copy_part_size).count
        calls.update({"HEAD": 1, "CreateMultipartUpload": 1, "UploadPartCopy": parts, "ListMultipartUploads": 1,
                      "ListParts": 1, "CompleteMultipartUpload": 1})
        return calls
    if size <= settings.resumable_threshold:
        calls.update({"GET": 1, "PUT": 1})
        return calls
    parts = PartLayout.for_size(size, settings.chunk_size).count
    calls.update({"HEAD": 1, "GET": parts, "CreateMultipartUpload": 1, "UploadPart": parts,
                  "ListMultipartUploads": 1, "ListParts": 1, "CompleteMultipartUpload": 1})
    return calls


def estimate(settings: Settings, src_url: str, dst_url: str, *, mode: str = "sync",
             prices: dict[str, Any] | None = None, throughput: float | None = None) -> Estimate:
    """Plan (read only), count and price. ``mode``: sync (one machine), cluster (SQS + DynamoDB) or lambda."""
    prices = prices or load_prices()
    src, dst = folder_endpoints(settings, src_url, dst_url)
    check_both_listable(src, dst)
    stores = open_stores(settings, src, dst)
    counts: Counter[str] = Counter({"LIST": 2})  # the run's first check of each side (check_both_listable)
    counted = Stores(stores.src, stores.dst, _Counting(stores.src_client, counts),
                     _Counting(stores.dst_client, counts), stores.same_service)
    mapping = KeyMapping.folders(src.location, dst.location)
    ignore = IgnoreRules.from_file(settings.ignore_file) if settings.ignore_file else IgnoreRules()
    planner = build_planner(settings, counted, mapping, ignore, None)
    result = Estimate(prices_as_of=str(prices.get("as_of", "")), transfer=transfer_kind(stores))
    server_side = stores.same_service and settings.server_side_copy
    sizes: list[int] = []
    for decision in planner.decisions():
        if decision.action is not Action.COPY:
            continue
        chain = [job.size for job in decision.chain] if decision.chain else [decision.src.size]
        for size in chain:
            sizes.append(size)
            counts.update(object_requests(size, settings, server_side))
    stats = planner.stats
    result.objects, result.bytes, result.largest = len(sizes), sum(sizes), max(sizes, default=0)
    result.listed, result.skipped = stats.listed, stats.skipped
    if server_side:
        result.notes.append("server-side copies assumed to work (they are tried first; refused, they stream)")
    if mode in ("cluster", "lambda"):
        for name, per_object in CLUSTER_CALLS.items():
            counts[name] += math.ceil(per_object * result.objects)
    result.requests = counts
    result.cost_usd = _costs(result, prices, mode, sizes, server_side)
    result.throughput = throughput
    if throughput:
        result.seconds = result.bytes / throughput
    else:
        result.notes.append("no duration without a throughput: pass --throughput (e.g. 200MiB, per second)")
    return result


def _costs(result: Estimate, prices: dict[str, Any], mode: str, sizes: list[int],
           server_side: bool) -> dict[str, float]:
    s3_prices = prices["s3_per_1000"]
    s3 = sum(count * float(s3_prices[S3_API_PRICE[name]]) / 1000 for name, count in result.requests.items()
             if name in S3_API_PRICE)
    moved = 0 if server_side and result.transfer != "out_to_internet" else result.bytes
    costs = {"s3_requests": s3, "data_transfer": moved / GIB * float(prices["transfer_per_gib"][result.transfer])}
    if mode in ("cluster", "lambda"):
        sqs = sum(count for name, count in result.requests.items() if name.startswith("SQS "))
        costs["sqs"] = sqs * float(prices["sqs_per_million"]) / 1e6
        dynamo = prices["dynamodb_per_million"]
        costs["dynamodb"] = (result.requests["DynamoDB write"] * float(dynamo["write"])
                             + result.requests["DynamoDB read"] * float(dynamo["read"])) / 1e6
    if mode == "lambda":
        lam, assume = prices["lambda"], prices.get("assumptions", {})
        memory = float(assume.get("lambda_worker_memory_gib", 1.0))
        rate = float(assume.get("lambda_mib_per_second", 50)) * 1024 * 1024
        seconds = sum(size / rate + 0.2 for size in sizes)
        costs["lambda"] = len(sizes) * float(lam["per_million_requests"]) / 1e6 + seconds * memory * float(
            lam["per_gib_second"])
        result.notes.append(f"Lambda time assumed {assume.get('lambda_mib_per_second', 50)} MiB/s per invocation "
                            f"plus 0.2 s, at {memory:g} GiB (prices file 'assumptions')")
    costs["total"] = sum(costs.values())
    return costs
