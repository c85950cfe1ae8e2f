"""The Ledger contract, run against every backend."""

from __future__ import annotations

import time

from s3migrate.jobs.job import Job
from s3migrate.ledger.base import ClaimResult, JobState, Ledger, Outcome, UploadRecord

JOB = Job("src-bkt", "dir/a b+c.bin", "dst-bkt", "copy/dir/a b+c.bin", 1234, None, '"etag1"')


def test_register_claim_complete(ledger: Ledger) -> None:
    ledger.register([JOB])
    record = ledger.get(JOB.ledger_key)
    assert record is not None and record.state is JobState.PENDING and record.first_time is None
    claim = ledger.claim(JOB, "w1", 60)
    assert claim.result is ClaimResult.CLAIMED and claim.record is not None
    assert claim.record.state is JobState.RUNNING and claim.record.try_times == 1
    assert claim.record.first_time is not None and abs(claim.record.first_time - time.time()) < 5
    ledger.complete(JOB.ledger_key, "w1", '"dst-etag"')
    done = ledger.get(JOB.ledger_key)
    assert done is not None and done.state is JobState.DONE and "DONE" in done.job_status
    assert done.instance_ids == {"w1"} and done.dst_etag == '"dst-etag"' and done.end_time
    assert done.total_spent_time is not None and done.progress == 100.0


def test_look_and_finish_record_a_one_request_job_in_one_write(ledger: Ledger) -> None:
    """A job copied in one request takes no lease: ``look`` reads, ``finish`` records the attempt and the
    completion as claim + complete would."""
    ledger.register([JOB])
    looked = ledger.look(JOB, "w1")
    assert looked.result is ClaimResult.FREE and looked.record is not None and looked.record.try_times == 0
    assert ledger.get(JOB.ledger_key).state is JobState.PENDING  # type: ignore[union-attr]  # nothing written
    ledger.finish(JOB, "w1", looked.record, '"dst-etag"', "v1")
    done = ledger.get(JOB.ledger_key)
    assert done is not None and done.state is JobState.DONE and done.job_status == {"DONE"}
    assert done.try_times == 1 and done.instance_ids == {"w1"} and done.dst_etag == '"dst-etag"'
    assert done.version_id == "v1" and done.first_time and done.end_time and done.progress == 100.0
    assert done.lease_owner is None and done.total_spent_time is not None
    assert ledger.look(JOB, "w2").result is ClaimResult.ALREADY_DONE
    changed = Job(JOB.src_bucket, JOB.src_key, JOB.dst_bucket, JOB.dst_key, 1234, None, '"etag2"')
    again = ledger.look(changed, "w2")
    assert again.result is ClaimResult.FREE
    ledger.finish(changed, "w2", again.record, '"dst-2"')
    second = ledger.get(JOB.ledger_key)
    assert second is not None and second.try_times == 2 and second.instance_ids == {"w1", "w2"}
    assert second.src_etag == '"etag2"' and second.first_time == done.first_time


def test_look_respects_live_leases_and_an_unclaimed_failure_counts_its_attempt(ledger: Ledger) -> None:
    ledger.register([JOB])
    assert ledger.claim(JOB, "w1", 60).result is ClaimResult.CLAIMED
    assert ledger.look(JOB, "w2").result is ClaimResult.BUSY
    ledger.fail(JOB.ledger_key, "w1", "network", Outcome.ERR, final=False)
    assert ledger.look(JOB, "w2").result is ClaimResult.FREE
    assert ledger.fail(JOB.ledger_key, "w2", "again", Outcome.ERR, final=False, unclaimed=True) == 2
    record = ledger.get(JOB.ledger_key)
    assert record is not None and record.try_times == 2 and record.instance_ids == {"w1", "w2"}
    assert record.state is JobState.PENDING and record.last_error == "again"


def test_redelivered_done_job_is_skipped_but_changed_source_is_not(ledger: Ledger) -> None:
    ledger.claim(JOB, "w1", 60)
    ledger.complete(JOB.ledger_key, "w1", '"x"')
    assert ledger.claim(JOB, "w2", 60).result is ClaimResult.ALREADY_DONE
    changed = Job(JOB.src_bucket, JOB.src_key, JOB.dst_bucket, JOB.dst_key, 1234, None, '"etag2"')
    assert ledger.claim(changed, "w2", 60).result is ClaimResult.CLAIMED


def test_one_source_sent_to_two_destinations_is_copied_to_both(ledger: Ledger) -> None:
    """Two bucket pairs with one source, or an S3 event beside a jobsender pair: done for one destination is
    not done for the other, and the second destination's redelivery is then skipped."""
    other = Job(JOB.src_bucket, JOB.src_key, "dst-second", "elsewhere/a b+c.bin", 1234, None, '"etag1"')
    ledger.register([JOB, other])
    assert ledger.claim(JOB, "w1", 60).result is ClaimResult.CLAIMED
    ledger.record_upload(JOB.ledger_key, "w1", UploadRecord("up-first", 5 * 1024 * 1024, '"etag1"', None))
    ledger.complete(JOB.ledger_key, "w1", '"first"')
    claim = ledger.claim(other, "w2", 60)
    assert claim.result is ClaimResult.CLAIMED and claim.record is not None
    assert (claim.record.dst_bucket, claim.record.dst_key) == ("dst-second", "elsewhere/a b+c.bin")
    assert claim.record.upload_id is None and claim.record.dst_etag is None  # the first one's are not its own
    ledger.complete(other.ledger_key, "w2", '"second"')
    assert ledger.claim(other, "w3", 60).result is ClaimResult.ALREADY_DONE
    record = ledger.get(JOB.ledger_key)
    assert record is not None and record.key == "src-bkt/dir/a b+c.bin"  # the original's Key, unchanged


def test_register_reopens_a_done_job(ledger: Ledger) -> None:
    """A planned job is missing at the destination, whatever the ledger says."""
    ledger.claim(JOB, "w1", 60)
    ledger.complete(JOB.ledger_key, "w1", '"x"')
    ledger.register([JOB])
    assert ledger.claim(JOB, "w1", 60).result is ClaimResult.CLAIMED


def test_conditional_claim_respects_live_leases(ledger: Ledger) -> None:
    ledger.register([JOB])
    assert ledger.claim(JOB, "w1", 1).result is ClaimResult.CLAIMED
    assert ledger.claim(JOB, "w2", 60).result is ClaimResult.BUSY
    assert ledger.renew(JOB.ledger_key, "w1", 1, progress=40)
    assert not ledger.renew(JOB.ledger_key, "w2", 60)
    time.sleep(1.2)
    claim = ledger.claim(JOB, "w2", 60)
    assert claim.result is ClaimResult.CLAIMED and claim.record is not None
    assert claim.record.instance_ids == {"w1", "w2"} and claim.record.try_times == 2


def test_upload_record_and_failures(ledger: Ledger) -> None:
    ledger.claim(JOB, "w1", 60)
    ledger.record_upload(JOB.ledger_key, "w1", UploadRecord("up-1", 5 * 1024 * 1024, '"etag1"', None))
    record = ledger.get(JOB.ledger_key)
    assert record is not None and (record.upload_id, record.upload_part_size) == ("up-1", 5 * 1024 * 1024)
    assert ledger.fail(JOB.ledger_key, "w1", "SlowDown", Outcome.ERR, final=False) == 1
    assert ledger.fail(JOB.ledger_key, "w1", "job timeout", Outcome.TIMEOUT, final=False) == 1
    record = ledger.get(JOB.ledger_key)
    assert record is not None and record.state is JobState.PENDING and record.upload_id == "up-1"
    assert record.job_status == {"ERR", "TIMEOUT"} and record.last_error == "job timeout"
    ledger.claim(JOB, "w1", 60)
    ledger.fail(JOB.ledger_key, "w1", "AccessDenied", Outcome.ERR, final=True)
    record = ledger.get(JOB.ledger_key)
    assert record is not None and record.state is JobState.FAILED and record.fail_count == 2
    assert [r.key for r in ledger.records(JobState.FAILED)] == [JOB.ledger_key]


def test_destination_index_and_summary(ledger: Ledger) -> None:
    other = Job("src-bkt", "k2", "dst-other", "k2", 10, "v2", None)
    ledger.register([JOB, other])
    assert list(ledger.destination_keys("dst-bkt")) == [(JOB.dst_key, None)]
    assert list(ledger.destination_keys("dst-other")) == [("k2", "v2")]
    ledger.claim(JOB, "w", 60)
    ledger.complete(JOB.ledger_key, "w", '"e"')
    summary = ledger.summary()
    assert summary.counts[JobState.DONE] == 1 and summary.counts[JobState.PENDING] == 1
    assert summary.bytes_by_state[JobState.DONE] == 1234


def test_concurrent_claims_have_one_winner(ledger: Ledger) -> None:
    import threading

    jobs = [Job("src-bkt", f"race-{i}", "dst-bkt", f"race-{i}", 10, None, '"e"') for i in range(10)]
    ledger.register(jobs)
    for job in jobs:
        results: list[ClaimResult] = []

        def claim(owner: str, job: Job = job, results: list[ClaimResult] = results) -> None:
            results.append(ledger.claim(job, owner, 60).result)

        threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results.count(ClaimResult.CLAIMED) == 1, results


def test_giant_parts_count_once_and_one_completer_at_a_time(ledger: Ledger) -> None:
    """Parts of one giant object done by any worker: a redelivered part counts once, two parts with the same
    bytes count twice, and exactly one worker may complete the upload until it gives the completion back."""
    ledger.register([JOB])
    same = "0" * 32
    assert ledger.part_done(JOB.ledger_key, 1, same) == 1
    assert ledger.part_done(JOB.ledger_key, 1, same) == 1  # redelivered
    assert ledger.part_done(JOB.ledger_key, 2, same) == 2  # the same bytes, another part
    assert ledger.part_done(JOB.ledger_key, 3, "f" * 32) == 3
    assert ledger.parts_done(JOB.ledger_key) == {1: same, 2: same, 3: "f" * 32}
    assert ledger.claim_completion(JOB.ledger_key, "w1", 60)
    assert not ledger.claim_completion(JOB.ledger_key, "w2", 60)
    assert ledger.claim_completion(JOB.ledger_key, "w1", 60)  # its own, again
    ledger.release_completion(JOB.ledger_key, "w2")  # not its to give back
    assert not ledger.claim_completion(JOB.ledger_key, "w2", 60)
    ledger.release_completion(JOB.ledger_key, "w1")
    assert ledger.claim_completion(JOB.ledger_key, "w2", 0.05)
    time.sleep(0.2)
    assert ledger.claim_completion(JOB.ledger_key, "w3", 60)  # w2 died: its lease ran out
