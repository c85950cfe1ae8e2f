"""Planning over key ranges on a real server: the same plan as one ordered pass, with real StartAfter."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from s3migrate.planner.mapping import KeyMapping
from s3migrate.planner.plan import Planner
from tests.conftest import Account
from tests.integration.test_lean import lean_client


def test_key_ranges_plan_what_one_ordered_pass_plans(accounts: tuple[Account, Account],
                                                     buckets: tuple[str, str]) -> None:
    src, dst = accounts
    src_bucket, dst_bucket = buckets
    flat = [f"data/obj-{i:05d}" for i in range(2600)]
    deep = [f"data/{d}/{name}" for d in ("a", "b b", "é") for name in ("x", "y+z", "日本")]
    keys = flat + deep
    at_destination = {key: (1 if i % 5 else 2) for i, key in enumerate(keys) if i % 3}  # some missing, some resized
    with ThreadPoolExecutor(32) as pool:
        src_client, dst_client = src.client(), dst.client()
        list(pool.map(lambda k: src_client.put_object(Bucket=src_bucket, Key=k, Body=b"x"), keys))
        list(pool.map(lambda k: dst_client.put_object(Bucket=dst_bucket, Key="copy/" + k[len("data/"):],
                                                      Body=b"x" * at_destination[k]), at_destination))
    mapping = KeyMapping(src_bucket, "data/", len("data/"), dst_bucket, "copy/", len("copy/"))

    def plan(width: int) -> tuple[dict[str, int | None], int, int]:
        planner = Planner(lean_client(src, src_bucket), lean_client(dst, dst_bucket), mapping, list_width=width)
        pairs = {}
        for s, d in planner.pairs():
            assert s.key not in pairs
            pairs[s.key] = d.size if d else None
        jobs = sum(1 for _ in Planner(lean_client(src, src_bucket), lean_client(dst, dst_bucket), mapping,
                                      list_width=width).jobs())
        return pairs, len(pairs), jobs

    ranged, ordered = plan(8), plan(1)
    assert ranged == ordered
    pairs, listed, jobs = ranged
    assert listed == len(keys)
    assert pairs == {k[len("data/"):]: at_destination.get(k) for k in keys}
    assert jobs == sum(1 for k in keys if at_destination.get(k) != 1)
