"""The ``s3migrate`` command line.

Exit codes: 0 every planned object is at the destination and verified; 1 some objects failed (each is
named with its reason); 2 usage, configuration or endpoint errors (one line, no traceback); 130 interrupted.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from s3migrate import __version__
from s3migrate.config import Settings, format_size, load_settings
from s3migrate.endpoints.location import S3Location, local_path, parse_location
from s3migrate.errors import ConfigError, S3MigrateError
from s3migrate.planner.filters import rules_in_order
from s3migrate.planner.plan import PlanStats
from s3migrate.progress.emf import EmfReporter
from s3migrate.progress.render import ProgressRenderer
from s3migrate.sync import SyncReport, SyncRun
from s3migrate.window import EXIT_WINDOW

if TYPE_CHECKING:
    from s3migrate.cluster import WorkRun

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _err(message: str) -> None:
    click.echo(f"s3migrate: error: {message}", err=True)


def transfer_options(func: Any) -> Any:
    """The endpoint and tuning options shared by every command that copies."""
    options = [
        click.option("--from-profile", help="AWS profile for the source (shared config/credentials files)."),
        click.option("--to-profile", help="AWS profile for the destination."),
        click.option("--from-endpoint", help="S3-compatible endpoint URL of the source."),
        click.option("--to-endpoint", help="S3-compatible endpoint URL of the destination."),
        click.option("--from-addressing-style", type=click.Choice(["auto", "path", "virtual"], case_sensitive=False),
                     help="ENDPOINT/BUCKET (path) or BUCKET.ENDPOINT (virtual); auto: path for S3-compatible "
                          "endpoints, virtual for Aliyun OSS and Tencent COS, AWS's own rules. [default: auto]"),
        click.option("--to-addressing-style", type=click.Choice(["auto", "path", "virtual"], case_sensitive=False),
                     help="The same for the destination. [default: auto]"),
        click.option("--from-region", help="Region of the source bucket."),
        click.option("--to-region", help="Region of the destination bucket."),
        click.option("--workers", type=int, help="Objects copied in parallel (MaxParallelFile). [default: 64]"),
        click.option("--max-workers", type=int, help="Workers at most: more are added while they move more objects "
                                                      "per second (far endpoints). [default: 256; a --workers "
                                                      "given alone is kept fixed]"),
        click.option("--threads", type=int, help="Parts in parallel within one object (MaxThread). [default: 4]"),
        click.option("--max-threads", type=int, help="Parts in parallel at most: more are added while they move more "
                                                      "bytes per second (far endpoints). [default: 16; a --threads "
                                                      "given alone is kept fixed]"),
        click.option("--chunk-size", help="Part size, e.g. 8MiB; grown past 10,000 parts (ChunkSize). [default: 8MiB]"),
        click.option("--max-memory",
                     help="Object data in flight at most, when less than workers x threads x chunk size. "
                          "[default: 512MiB]"),
        click.option("--resumable-threshold",
                     help="At or under this size: one GET + one PUT (ResumableThreshold). [default: 64MiB]"),
        click.option("--storage-class", help="Destination storage class, e.g. STANDARD_IA (StorageClass)."),
        click.option("--server-side-copy/--no-server-side-copy", default=None,
                     help="Copy inside S3 (CopyObject) when the destination can read the source on the same "
                          "service; tried once per run, streams otherwise. [default: on]"),
        click.option("--compare", type=click.Choice(["size", "newer"], case_sensitive=False),
                     help="Which objects to copy: size = missing or another size (the original's rule); newer = "
                          "also those modified at the source since their copy was written. [default: size; newer "
                          "when SRC or DST is a local folder]"),
        click.option("--follow-symlinks/--no-follow-symlinks", default=None,
                     help="A local SRC's symbolic links are read as what they point to (as aws s3 sync); "
                          "--no-follow-symlinks leaves them out, each reported as skipped. [default: follow]"),
        click.option("--copy-tags/--no-copy-tags", default=None,
                     help="Copy object tags (reading them needs s3:GetObjectTagging on the source, writing them "
                          "s3:PutObjectTagging on the destination). [default: on]"),
        click.option("--check-source-etag/--no-check-source-etag", default=None,
                     help="A single-part source whose ETag is an MD5 (unencrypted or SSE-S3) must give bytes with "
                          "that MD5, or the object fails; off only for a service whose ETags are not MD5s. "
                          "[default: on]"),
        click.option("--list-width", type=int,
                     help="Key ranges listed and compared at once when planning; 1 lists each side in one "
                          "ordered pass. [default: 8]"),
        click.option("--ignore-file", type=click.Path(path_type=Path),
                     help="Shell-wildcard patterns matched against bucket/key, one per line."),
        click.option("--max-retries", type=int,
                     help="Failed attempts per object before giving up (MaxRetry). [default: 10]"),
        click.option("--job-timeout", type=float,
                     help="Seconds one object may run before it yields and resumes (JobTimeout). [default: 3600]"),
        click.option("--bwlimit", help="Bytes per second this process moves, at most (e.g. 50MiB); an average over a "
                                       "few seconds; server-side copies do not count."),
        click.option("--tps-limit", type=float, help="Requests per second to each endpoint, at most."),
        click.option("--from-request-payer", is_flag=True, default=None,
                     help="Every request to the source says the requester pays (x-amz-request-payer)."),
        click.option("--to-request-payer", is_flag=True, default=None,
                     help="Every request to the destination says the requester pays."),
        click.option("--from-no-sign-request", is_flag=True, default=None,
                     help="Read a public source anonymously: unsigned requests, no credentials looked up."),
        click.option("--acl", help="Canned ACL of every object written, e.g. bucket-owner-full-control."),
        click.option("--sse", help="Server-side encryption of every object written: AES256, aws:kms or "
                                   "aws:kms:dsse."),
        click.option("--sse-kms-key-id", help="The KMS key (ID, ARN or alias) for --sse aws:kms / aws:kms:dsse."),
        click.option("--sse-c-key", type=click.Path(path_type=Path),
                     help="File with the 256-bit SSE-C key to write the destination's objects with (32 bytes "
                          "or their base64)."),
        click.option("--from-sse-c-key", type=click.Path(path_type=Path),
                     help="File with the 256-bit SSE-C key of the source's objects."),
        click.option("--metadata", multiple=True, metavar="KEY=VALUE",
                     help="User metadata added to every object written; repeatable."),
        click.option("--metadata-directive", type=click.Choice(["COPY", "REPLACE"], case_sensitive=False),
                     help="COPY: the source's metadata and content headers, with the options on top; REPLACE: "
                          "only what the options give. [default: COPY]"),
        click.option("--content-type", help="Content-Type of every object written."),
        click.option("--cache-control", help="Cache-Control of every object written."),
        click.option("--content-disposition", help="Content-Disposition of every object written."),
        click.option("--content-encoding", help="Content-Encoding of every object written."),
        click.option("--content-language", help="Content-Language of every object written."),
        click.option("--expires", help="Expires of every object written (2030-01-01T00:00:00Z or an HTTP date)."),
        click.option("--copy-object-lock", is_flag=True, default=None,
                     help="Write the source's Object Lock retention (mode, retain-until date) and legal hold, where "
                          "the source shows them; the destination bucket must have Object Lock enabled."),
        click.option("--restore-days", type=int,
                     help="Archived source objects (GLACIER, DEEP_ARCHIVE) not yet restored: ask S3 to restore "
                          "them for N days; a later run copies them. Without it they are only reported."),
        click.option("--restore-tier", type=click.Choice(["Standard", "Bulk", "Expedited"], case_sensitive=False),
                     help="The tier of --restore-days. [default: Standard]"),
        click.option("--config", "config_file", type=click.Path(path_type=Path),
                     help="Settings file (TOML, or INI with the original Longbow keys)."),
        click.option("--log-level", help="DEBUG, INFO, WARNING or ERROR (LoggingLevel)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="s3migrate")
def cli() -> None:
    """Copy S3 buckets between accounts, regions and clouds: fast, resumable, verified."""


def filter_options(func: Any) -> Any:
    """Which source objects a run considers (sync, send, verify); see planner/filters.py."""
    options = [
        click.option("--exclude", "exclude", multiple=True, metavar="PATTERN",
                     help="Leave out keys (relative to SRC) matching this shell pattern; repeatable. Rules apply "
                          "in the order given, the last match deciding."),
        click.option("--include", "include", multiple=True, metavar="PATTERN",
                     help="Take keys matching this pattern back in (after an --exclude); repeatable."),
        click.option("--min-size", help="Only objects of at least this size (e.g. 1MiB)."),
        click.option("--max-size", help="Only objects of at most this size."),
        click.option("--min-age", help="Only objects last modified at least this long ago (90s, 30m, 12h, 7d, 2w)."),
        click.option("--max-age", help="Only objects last modified at most this long ago."),
        click.option("--files-from", type=click.Path(path_type=Path),
                     help="Only these keys: a file of keys relative to SRC, one a line."),
        click.option("--from-inventory", metavar="MANIFEST",
                     help="Plan from the source's S3 Inventory (s3://.../manifest.json or a path; CSV, Parquet or ORC) "
                          "instead of listing it."),
        click.option("--to-inventory", metavar="MANIFEST", help="The destination's S3 Inventory, instead of its "
                                                                 "listing."),
        click.option("--all-versions", is_flag=True, default=None,
                     help="Every version of every key, oldest first, delete markers included (the destination "
                          "bucket must have versioning on); verify compares the histories."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(params: dict[str, Any], config_file: Path | None) -> Settings:
    if not params.get("metadata"):  # an empty --metadata list leaves the config file's metadata alone
        params.pop("metadata", None)
    excluded, included = params.pop("exclude", ()), params.pop("include", ())
    if excluded or included:  # click keeps each option's values apart: the typed order comes from argv
        params["filters"] = rules_in_order(sys.argv[1:])
    return load_settings(params, config_file)


def count(n: int, noun: str) -> str:
    """``1 object``, ``2 objects``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _print_extras(extras: list[Any], dst: str, limit: int | None, shown: int = 10) -> None:
    over = f" (more than --max-delete {limit}: nothing would be deleted)" if limit is not None and \
        len(extras) > limit else ""
    click.echo(f"would delete: {count(len(extras), 'object')} under {dst}, "
               f"{format_size(sum(o.size for o in extras))}{over}")
    for obj in extras[:shown]:
        click.echo(f"  {obj.key}  (not at the source)")
    if len(extras) > shown:
        click.echo(f"  ... and {len(extras) - shown} more")


def _print_mirror(report: SyncReport, dst: str) -> None:
    if report.mirror_skipped:
        click.echo(f"--delete: nothing deleted: {report.mirror_skipped}", err=True)
    mirror = report.mirror
    if mirror is None:
        return
    if mirror.refused:
        click.echo(f"--delete: nothing deleted: {mirror.refused}", err=True)
        return
    click.echo(f"deleted {count(len(mirror.deleted), 'object')} under {dst} that the source does not have")
    for key, reason in mirror.failed:
        click.echo(f"  could not delete {key}: {reason}", err=True)


def _say_if_nothing_matched(stats: PlanStats, src: str, run: SyncRun | None = None) -> None:
    """A SRC under which nothing is listed, or nothing passes the filters, is said on stderr (not an error)."""
    if stats.listed == 0 and run is not None and run.source_is_an_object():
        click.echo(f"note: {src} is an object, not a folder: copy it with s3migrate cp {src} DST", err=True)
    elif stats.listed == 0:
        click.echo(f"note: nothing is listed under {src}", err=True)
    elif stats.filtered and stats.filtered + stats.ignored == stats.listed:
        click.echo(f"note: none of the {count(stats.listed, 'object')} under {src} passes the filters", err=True)


def window_options(func: Any) -> Any:
    """A maintenance window (sync, work): stop taking new objects when it is used up; exit code 3."""
    options = [
        click.option("--max-duration", help="Stop taking new objects after this long (90s, 30m, 8h); objects in "
                                            "flight stop resumable, exit code 3, the next run continues."),
        click.option("--max-transfer", help="Stop taking new objects once this much moved (e.g. 500GiB); exit "
                                            "code 3, the next run continues."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def output_options(func: Any) -> Any:
    """How a command talks to scripts and to people (sync, send)."""
    options = [
        click.option("--json", "as_json", is_flag=True,
                     help="Print one JSON document on stdout (no progress display, no other stdout lines)."),
        click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors."),
        click.option("--no-progress", is_flag=True, help="No progress display."),
        click.option("--log-file", type=click.Path(path_type=Path), help="Write log records to this file (appended) "
                                                                           "instead of stderr."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _configure_logging(settings: Settings, log_file: Path | None = None) -> None:
    handler: logging.Handler
    if log_file is not None:
        try:
            handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--log-file {log_file}: {exc.strerror or exc}") from None
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=getattr(logging, settings.log_level), handlers=[handler])
    logging.getLogger("botocore").setLevel(logging.WARNING)


def _print_plan(stats: PlanStats, heading: str) -> None:
    click.echo(
        f"{heading}: {count(stats.to_copy, 'object')}, {format_size(stats.bytes_to_copy)} "
        f"(listed {stats.listed}, already there {stats.skipped}, ignored {stats.ignored}"
        + (f", filtered out {stats.filtered})" if stats.filtered else ")")
    )
    for key, reason in stats.examples:
        click.echo(f"  {key}  ({reason})")
    if stats.to_copy > len(stats.examples):
        click.echo(f"  ... and {stats.to_copy - len(stats.examples)} more")
    _print_left(stats)


def _print_left(stats: PlanStats) -> None:
    """Objects the plan left as they are (archived and not restored, another history), with the reason, on
    stderr: they are not copied."""
    if not stats.left:
        return
    click.echo(f"left as they are: {count(stats.left, 'object')}:", err=True)
    for key, reason in stats.left_examples:
        click.echo(f"  {key}  ({reason})", err=True)
    if stats.left > len(stats.left_examples):
        click.echo(f"  ... and {stats.left - len(stats.left_examples)} more", err=True)


def _print_report(report: SyncReport, settings: Settings) -> None:
    p = report.progress
    rate = p.rate
    click.echo(
        f"copied {count(p.objects_done, 'object')} ({format_size(p.bytes_sent)} sent, "
        + (f"{format_size(p.bytes_in_place)} copied in place, " if p.bytes_in_place else "")
        + f"{format_size(p.bytes_reused)} already at the destination) in {p.elapsed:.1f}s, {format_size(rate)}/s; "
        f"{report.plan.skipped} unchanged, {report.plan.ignored} ignored, "
        + (f"{report.plan.filtered} filtered out, " if report.plan.filtered else "")
        + f"{p.objects_failed} failed"
    )
    _print_left(report.plan)
    if report.left_out:
        click.echo(f"left out {count(len(report.left_out), 'file')} of the source folder:", err=True)
        for path, reason in report.left_out[:20]:
            click.echo(f"  {path}: {reason}", err=True)
        if len(report.left_out) > 20:
            click.echo(f"  ... and {len(report.left_out) - 20} more", err=True)
    _print_failures(report)


def _print_failures(report: SyncReport) -> None:
    """Failed objects on stderr, whatever else is printed (even --quiet)."""
    if report.failures:
        click.echo(f"{count(len(report.failures), 'object')} failed:", err=True)
        for what, reason in report.failures:
            click.echo(f"  {what}: {reason}", err=True)
        click.echo(f"(recorded in the ledger at {report.state_path})", err=True)


@cli.command()
@click.argument("src")
@click.argument("dst")
@transfer_options
@filter_options
@click.option("--state", type=click.Path(path_type=Path),
              help="The embedded state file (SQLite queue + ledger). [default: ./.s3migrate/SRC--DST-HASH.db]")
@click.option("--dry-run", is_flag=True, help="Print what would be copied, copy nothing.")
@click.option("--clean-unfinished-upload", is_flag=True, default=None,
              help="Abort unfinished multipart uploads under the destination first (CleanUnfinishedUpload).")
@click.option("--delete", is_flag=True, default=None,
              help="Mirror: after every copy succeeded, delete what DST holds under its prefix and SRC does not "
                   "(keys the filters leave out are kept). Recorded in the state file.")
@click.option("--max-delete", type=int, help="With --delete: delete nothing, and fail, when more than N would go.")
@window_options
@click.option("-y", "--yes", is_flag=True, help="Do not ask before copying (it asks only on a terminal).")
@output_options
def sync(src: str, dst: str, config_file: Path | None, dry_run: bool, yes: bool, as_json: bool, quiet: bool,
         no_progress: bool, log_file: Path | None, **params: Any) -> None:
    """Copy every object under SRC that is missing or different under DST.

    SRC and DST are s3://BUCKET[/PREFIX]; s3://a/data s3://b/copy copies data/x to copy/x.
    Interrupt it at any moment and run the same command again: it continues where it stopped.
    """
    settings = _settings(params, config_file)
    _configure_logging(settings, log_file)
    run = SyncRun(settings, src, dst)
    talk = not (as_json or quiet)
    if dry_run:
        planned: list[tuple[str, int, str]] = []
        stats = run.dry_run(planned if as_json else None)
        extras = run.extras() if settings.delete else []
        if as_json:
            click.echo(json.dumps({
                "dry_run": True, "to_copy": stats.to_copy, "bytes": stats.bytes_to_copy, "listed": stats.listed,
                "skipped": stats.skipped, "ignored": stats.ignored, "filtered": stats.filtered,
                "left": stats.left,
                "left_examples": [{"key": key, "reason": why} for key, why in stats.left_examples],
                "planned": [{"key": key, "size": size, "reason": reason} for key, size, reason in planned],
                "would_delete": [{"key": o.key, "size": o.size} for o in extras],
            }, indent=2))
        elif talk:
            _print_plan(stats, "would copy")
            if settings.delete:
                _print_extras(extras, dst, settings.max_delete)
        if not quiet:
            _say_if_nothing_matched(stats, src, run)
        return
    interactive = talk and sys.stdin.isatty() and sys.stdout.isatty() and not yes

    def confirm(stats: PlanStats) -> bool:
        if stats.to_copy == 0:
            return True
        _print_plan(stats, "to copy")
        return click.confirm(f"Copy {count(stats.to_copy, 'object')} to {dst}?", default=False)

    _install_stop_handler(run.cancel, "run the same command again to continue")
    with contextlib.ExitStack() as progress:

        def show_progress() -> None:  # after the question, so the display never draws over it
            if talk and not no_progress:
                progress.enter_context(ProgressRenderer(run.tracker))

        report = run.run(confirm if interactive else None, on_copy_start=show_progress)
    if report.declined:
        click.echo("nothing copied")
        return
    if as_json:
        click.echo(json.dumps(_sync_document(report), indent=2))
    else:
        if talk:
            _print_report(report, settings)
            _print_mirror(report, dst)
            _say_if_nothing_matched(report.plan, src, run)
        else:
            _print_failures(report)
    _say_why_it_stopped(report)
    sys.exit(report.exit_code)


def _say_why_it_stopped(report: SyncReport) -> None:
    if report.window:
        click.echo(f"stopped: {report.window}; run the same command again to continue", err=True)
    elif report.interrupted:
        click.echo("interrupted: run the same command again to continue", err=True)


def _sync_document(report: SyncReport) -> dict[str, Any]:
    """What `sync --json` prints: what was copied, skipped, failed (with reasons) and deleted."""
    p, mirror = report.progress, report.mirror
    return {
        "copied": p.objects_done, "bytes": p.bytes_sent + p.bytes_in_place, "bytes_sent": p.bytes_sent,
        "bytes_copied_in_place": p.bytes_in_place, "bytes_already_there": p.bytes_reused,
        "skipped": report.plan.skipped, "ignored": report.plan.ignored, "filtered": report.plan.filtered,
        "left_out": [{"path": path, "reason": reason} for path, reason in report.left_out],
        "left": report.plan.left,
        "left_examples": [{"key": key, "reason": why} for key, why in report.plan.left_examples],
        "failed": [{"object": what, "reason": reason} for what, reason in report.failures],
        "deleted": list(mirror.deleted) if mirror else [],
        "delete_failed": [{"key": key, "reason": reason} for key, reason in mirror.failed] if mirror else [],
        "delete_refused": (mirror.refused if mirror else None) or report.mirror_skipped,
        "interrupted": report.interrupted and not report.window, "window": report.window,
        "exit_code": report.exit_code, "seconds": round(p.elapsed, 3),
        "state_file": str(report.state_path) if report.state_path else None,
    }


def split_object_url(url: str) -> tuple[str, str]:
    """``s3://bucket/dir/name`` -> (``s3://bucket/dir/``, ``dir/name``); a path -> (its folder, its name)."""
    path = local_path(url)
    if path is not None:
        if url.endswith("/") or os.path.isdir(path):
            raise click.UsageError(f"{url} is a folder; copy folders with s3migrate sync")
        return os.path.dirname(path), os.path.basename(path)
    if "/" not in url[len("s3://"):]:
        raise click.UsageError(f"{url!r} names no object (expected s3://BUCKET/KEY)")
    bucket, _, key = url[len("s3://"):].partition("/")
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    return f"s3://{bucket}/{folder}", key


def cp_destination(dst: str, name: str) -> tuple[str, str]:
    """Where ``cp`` writes: (folder, key). A DST ending in / (or a bucket, or an existing local folder) keeps the
    source's name."""
    path = local_path(dst)
    if path is not None:
        if dst.endswith("/") or os.path.isdir(path):
            return path, name
        return os.path.dirname(path), os.path.basename(path)
    if dst.endswith("/") or dst.count("/") < 3:  # a folder (or a bucket): the object keeps its name
        dst_folder = dst if dst.endswith("/") else dst + "/"
        return dst_folder, S3Location.parse(dst_folder).prefix + name
    return split_object_url(dst)


@cli.command()
@click.argument("src")
@click.argument("dst")
@transfer_options
@click.option("--state", type=click.Path(path_type=Path),
              help="The embedded state file (SQLite queue + ledger). [default: ./.s3migrate/SRC--DST-HASH.db]")
@click.option("--dry-run", is_flag=True, help="Print what would be copied, copy nothing.")
@output_options
def cp(src: str, dst: str, config_file: Path | None, dry_run: bool, as_json: bool, quiet: bool, no_progress: bool,
       log_file: Path | None, **params: Any) -> None:
    """Copy one object or file: SRC is s3://BUCKET/KEY or a file; DST is s3://BUCKET/KEY or a path, and a DST
    ending in / (or an existing folder) keeps the name.

    The same engine as sync: large objects resume from their parts when run again, every byte is checked."""
    settings = _settings(params, config_file)
    _configure_logging(settings, log_file)
    src_folder, src_key = split_object_url(src)
    if src_key.endswith("/"):
        raise click.UsageError(f"{src} ends in /: it is a folder; copy folders with s3migrate sync")
    if local_path(src) is not None and not os.path.isfile(os.path.join(src_folder, src_key)):
        raise click.UsageError(f"{src}: no such file")
    dst_folder, dst_key = cp_destination(dst, src_key.rsplit("/", 1)[-1])
    run = SyncRun(settings, src_folder, dst_folder, single=(src_key, dst_key))
    target = os.path.join(run.dst.bucket, dst_key) if run.dst.location.local else f"s3://{run.dst.bucket}/{dst_key}"
    if dry_run:
        stats = run.dry_run()
        if as_json:
            click.echo(json.dumps({"dry_run": True, "source": src, "destination": target,
                                   "bytes": stats.bytes_to_copy}, indent=2))
        elif not quiet:
            click.echo(f"would copy {src} ({format_size(stats.bytes_to_copy)}) to {target}")
        return
    _install_stop_handler(run.cancel, "run the same command again to continue")
    with contextlib.ExitStack() as progress:

        def show_progress() -> None:
            if not (as_json or quiet or no_progress):
                progress.enter_context(ProgressRenderer(run.tracker))

        report = run.run(None, on_copy_start=show_progress)
    if report.plan.left:  # not copied, and not tried: the one object asked for is not there
        why = report.plan.left_examples[0][1]
        if as_json:
            click.echo(json.dumps({**_sync_document(report), "source": src, "destination": target}, indent=2))
        click.echo(f"s3migrate: {src} not copied: {why}", err=True)
        sys.exit(EXIT_FAILED)
    if as_json:
        click.echo(json.dumps({**_sync_document(report), "source": src, "destination": target}, indent=2))
    elif not quiet and not report.failures:
        p = report.progress
        how = "copied in place" if p.bytes_in_place else f"{format_size(p.bytes_sent)} sent"
        click.echo(f"copied {src} to {target} ({how}) in {p.elapsed:.1f}s")
    if not as_json:
        _print_failures(report)
    if report.interrupted:
        click.echo("interrupted: run the same command again to continue", err=True)
    sys.exit(report.exit_code)


def cluster_options(func: Any) -> Any:
    """Queue, ledger and the original cluster settings (also readable from the environment and config)."""
    options = [
        click.option("--queue", help="sqlite:///PATH, sqs://NAME or an SQS queue URL (sqs_queue_name)."),
        click.option("--ledger", help="sqlite:///PATH or dynamodb://TABLE (table_queue_name)."),
        click.option("--job-type", help="PUT: stored credentials write the destination; GET: they read the source."),
        click.option("--ssm-parameter-credentials", help="SSM SecureString with the other account's keys."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _install_stop_handler(cancel: Any, what: str) -> None:
    """First SIGINT/SIGTERM: stop taking work, leave uploads resumable; a second one exits at once."""
    interrupts = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            click.echo(f"s3migrate: stopped hard; {what}", err=True)
            os._exit(EXIT_INTERRUPTED)
        click.echo("s3migrate: stopping after the parts in flight (signal again to stop now)", err=True)
        cancel()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


@cli.command()
@click.argument("src", required=False)
@click.argument("dst", required=False)
@transfer_options
@filter_options
@cluster_options
@click.option("--pairs", "pairs_file", type=click.Path(path_type=Path),
              help="Bucket pairs JSON: [{src_bucket, src_prefix, des_bucket, des_prefix}] (original layout).")
@click.option("--ssm-parameter-bucket", help="SSM parameter holding the bucket pairs JSON.")
@click.option("--ssm-parameter-ignore-list", help="SSM parameter holding the ignore list.")
@click.option("--clean-unfinished-upload", is_flag=True, default=None,
              help="Abort unfinished multipart uploads under each destination prefix first.")
@click.option("--giant-threshold", help="Objects over this size become one multipart upload whose parts are "
                                         "separate jobs, for any worker. [default: 1GiB]")
@click.option("--giant-part-size", help="Part size of giant objects, grown past 10,000 parts. [default: 64MiB]")
@click.option("--force", is_flag=True, help="Send every planned job, even those the ledger shows still waiting or "
                                           "in progress.")
@output_options
def send(src: str | None, dst: str | None, config_file: Path | None, pairs_file: Path | None, force: bool,
         as_json: bool, quiet: bool, no_progress: bool, log_file: Path | None, **params: Any) -> None:
    """The jobsender: compare each bucket pair and put one job per missing object on the queue.

    Bucket pairs (--pairs or ssm_parameter_bucket) keep the original layout: the destination key is
    des_prefix/ + the whole source key. SRC DST maps folders, like sync.
    """
    from s3migrate.cluster import run_send
    from s3migrate.wiring import bucket_pairs

    settings = _settings(params, config_file)
    _configure_logging(settings, log_file)
    if settings.delete:
        click.echo("note: delete (mirror) applies to sync only; send queues copies and deletes nothing", err=True)
    report = run_send(settings, bucket_pairs(settings, pairs_file, src, dst), force=force)
    if as_json:
        click.echo(json.dumps({
            "jobs": report.jobs, "bytes": report.bytes, "largest": report.largest,
            "worker_memory": report.worker_memory, "stopped": report.stopped,
            "already_queued": report.already_queued, "giant_objects": report.giant_objects,
            "giant_parts": report.giant_parts,
            "pairs": [{"source": f"s3://{m.src_bucket}/{m.src_list_prefix}",
                       "destination": f"s3://{m.dst_bucket}/{m.dst_list_prefix}", "jobs": st.to_copy,
                       "bytes": st.bytes_to_copy, "listed": st.listed, "skipped": st.skipped,
                       "ignored": st.ignored, "filtered": st.filtered, "left": st.left}
                      for m, st in report.stats],
        }, indent=2))
        return
    if quiet:
        return
    for mapping, stats in report.stats:
        click.echo(f"{mapping.describe()}: {count(stats.to_copy, 'job')}, {format_size(stats.bytes_to_copy)} "
                   f"(listed {stats.listed}, already there {stats.skipped}, ignored {stats.ignored})")
    if report.already_queued:
        click.echo(f"{count(report.already_queued, 'planned job')} still waiting or in progress: not sent again "
                   "(--force sends them)")
    if report.giant_objects:
        click.echo(f"{count(report.giant_objects, 'giant object')} sent as {count(report.giant_parts, 'part job')}, "
                   "for any worker to upload")
    click.echo(f"sent {count(report.jobs, 'job')}, {format_size(report.bytes)}; "
               f"largest object {format_size(report.largest)}; "
               f"a worker needs about {format_size(report.worker_memory)} for data in flight "
               f"({settings.workers} workers x {settings.threads} threads x part size, at most --max-memory)")


@cli.command()
@transfer_options
@cluster_options
@click.option("--des-bucket-default", help="Destination bucket for S3 event messages (Des_bucket_default).")
@click.option("--des-prefix-default", help="Destination prefix for S3 event messages (Des_prefix_default).")
@click.option("--exit-when-idle", type=float, help="Stop after this many seconds without a job.")
@click.option("--processes", type=click.IntRange(min=1, max=256), default=1, show_default=True,
              help="Worker processes on this machine, each with --workers threads, over the same queue (one Python "
                   "process uses about one core).")
@window_options
@click.option("--metrics-interval", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Print CloudWatch EMF metric lines every N seconds (0: off); the CloudWatch agent ships them.")
def work(config_file: Path | None, exit_when_idle: float | None, processes: int, metrics_interval: float,
         **params: Any) -> None:
    """A worker: take jobs (original messages and S3 event notifications) from the queue and copy them.

    SIGTERM (a Spot interruption, a scale-in) stops taking jobs and leaves in-flight uploads resumable.
    """
    from s3migrate.cli.processes import pass_on_stop, start_children, worst_exit
    from s3migrate.cluster import WorkRun

    settings = _settings(params, config_file)
    _configure_logging(settings)
    run = WorkRun(settings, exit_when_idle)
    children = start_children(processes - 1) if processes > 1 else []

    def stop() -> None:
        run.cancel()
        pass_on_stop(children)

    _install_stop_handler(stop, "the jobs in flight come back to the queue")
    try:
        code = _work(run, metrics_interval)
    except BaseException:
        pass_on_stop(children)
        worst_exit(0, children)
        raise
    sys.exit(worst_exit(code, children) if children else code)


def _work(run: WorkRun, metrics_interval: float) -> int:
    """One worker process's run and summary; its exit code."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(ProgressRenderer(run.tracker, interval=60.0))
        if metrics_interval:
            stack.enter_context(EmfReporter(run.tracker, metrics_interval, {"ServiceName": "s3migrate-worker"}))
        tracker = run.run()
    s = tracker.snapshot()
    dead = f", {s.messages_dead_lettered} messages not jobs (dead-letter queue)" if s.messages_dead_lettered else ""
    click.echo(f"worker done: {s.objects_done} copied ({format_size(s.bytes_sent)}), {s.objects_skipped} already "
               f"done, {s.objects_failed} failed{dead}")
    for what, reason in s.failures:
        click.echo(f"FAILED {what}: {reason}", err=True)
    if s.objects_failed or s.messages_dead_lettered:
        return EXIT_FAILED
    if run.window:
        click.echo(f"stopped: {run.window}; jobs in flight went back to the queue", err=True)
        return EXIT_WINDOW
    return EXIT_OK


def _state_file_of(src: str, dst: str | None) -> Path:
    """The state file ``sync SRC DST`` left in ./.s3migrate (found by its readable name)."""
    from s3migrate.sync import STATE_DIR, state_file_stem

    if dst is None:
        raise click.UsageError("status takes SRC and DST together (or --state, or --ledger)")
    stem = state_file_stem(parse_location(src), parse_location(dst))
    found = sorted(STATE_DIR.glob(f"{glob.escape(stem)}-*.db"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise click.UsageError(f"no state file of a sync {src} -> {dst} in ./.s3migrate")
    raise click.UsageError(f"{len(found)} state files for {src} -> {dst} (other endpoints): pass --state with one "
                           "of " + ", ".join(str(p) for p in found))


def _only_state_file() -> Path:
    """The state file a ``sync`` in this directory left (``./.s3migrate/*.db``), when there is exactly one."""
    from s3migrate.sync import STATE_DIR

    found = sorted(STATE_DIR.glob("*.db"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise click.UsageError("--state, --ledger or table_queue_name is required (no sync state file in "
                               "./.s3migrate)")
    raise click.UsageError(f"{len(found)} sync state files in ./.s3migrate: pass --state with one of "
                           + ", ".join(str(p) for p in found))


@cli.command()
@click.argument("src", required=False)
@click.argument("dst", required=False)
@click.option("--state", "state_file", type=click.Path(path_type=Path),
              help="A sync state file (its ledger and queue). [default: the sync of SRC DST, or the only one in "
                   "./.s3migrate]")
@click.option("--ledger", help="sqlite:///PATH or dynamodb://TABLE (table_queue_name).")
@click.option("--queue", help="Also show queue depth, in-flight and dead-letter counts.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="Settings file.")
def status(src: str | None, dst: str | None, state_file: Path | None, ledger: str | None, queue: str | None,
           as_json: bool, config_file: Path | None) -> None:
    """Summarise the ledger: done / failed / in progress, retries, slowest objects, throughput.

    With SRC DST it reads the state file that `sync SRC DST` left in this directory; without options, the only
    one there."""

    from s3migrate.ledger.open import open_ledger
    from s3migrate.queues.open import open_queue
    from s3migrate.status import build_status

    settings = _settings({"ledger": ledger, "queue": queue}, config_file)
    ledger_url, queue_url = settings.ledger, settings.queue
    if state_file is not None and ledger_url:
        raise click.UsageError("--state and --ledger name two ledgers: pass one of them")
    if not ledger_url:
        state_file = state_file or (_state_file_of(src, dst) if src else _only_state_file())
        if not state_file.is_file():
            raise click.UsageError(f"no state file at {state_file}")
        ledger_url = f"sqlite:///{state_file.resolve()}"
        queue_url = queue_url or ledger_url
    the_ledger = open_ledger(ledger_url, create=False)
    the_queue = open_queue(queue_url, create=False) if queue_url else None
    try:
        report = build_status(the_ledger, the_queue)
    finally:
        the_ledger.close()
        if the_queue is not None:
            the_queue.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    o, b = report.objects, report.bytes
    click.echo(f"done        {o['DONE']:>8} objects  {format_size(b['DONE'])}")
    click.echo(f"failed      {o['FAILED']:>8} objects  {format_size(b['FAILED'])}")
    click.echo(f"in progress {o['RUNNING']:>8} objects  {format_size(b['RUNNING'])}")
    click.echo(f"pending     {o['PENDING']:>8} objects  {format_size(b['PENDING'])}")
    click.echo(f"retries     {report.retries:>8}")
    if report.queue is not None:
        q = report.queue
        click.echo(f"queue       {q['visible']} waiting, {q['in_flight']} in flight, {q['dead_letters']} dead letters")
    if report.slowest:
        click.echo("slowest:")
        for item in report.slowest[:5]:
            click.echo(f"  {item['seconds']:8.1f}s  {format_size(item['size']):>10}  {item['key']}")
    if report.throughput:
        click.echo("completed per minute (UTC):")
        for item in report.throughput[-10:]:
            minute = time.strftime("%H:%M", time.gmtime(item["minute"]))
            click.echo(f"  {minute}  {format_size(item['bytes'])}")
    if report.failed:
        click.echo("failed:")
        for item in report.failed[:20]:
            click.echo(f"  {item['key']}: {item['error']}")


@cli.command()
@click.argument("src")
@click.argument("dst")
@transfer_options
@filter_options
@click.option("--state", type=click.Path(path_type=Path),
              help="Ledger of the sync that made the copy (default: the sync's default state file, if any).")
@click.option("--ledger", "ledger_url", help="Or a cluster ledger: sqlite:///PATH or dynamodb://TABLE.")
@click.option("--deep", is_flag=True, help="Read both sides and hash them (settles every unproven object).")
@click.option("--one-way", is_flag=True,
              help="Ignore objects only at the destination (a prefix that also holds other things).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify(src: str, dst: str, config_file: Path | None, state: Path | None, ledger_url: str | None, deep: bool,
           one_way: bool, as_json: bool, **params: Any) -> None:
    """Prove that every object under SRC is at DST with the same content.

    Exit 0 only when every object is proven equal; missing, different, extra and unproven objects are listed.
    """

    from s3migrate.ledger.open import open_ledger
    from s3migrate.ledger.sqlite import SqliteLedger
    from s3migrate.planner.mapping import KeyMapping
    from s3migrate.sqlite_db import Database
    from s3migrate.sync import default_state_path
    from s3migrate.verify import Verdict, Verifier
    from s3migrate.wiring import check_both_listable, folder_endpoints, key_filter, make_store

    settings = _settings(params, config_file)
    _configure_logging(settings)
    src_ep, dst_ep = folder_endpoints(settings, src, dst)
    check_both_listable(src_ep, dst_ep)
    ledger = None
    if ledger_url:
        ledger = open_ledger(ledger_url)
    else:
        path = state or default_state_path(src_ep, dst_ep)
        if path.exists():
            ledger = SqliteLedger(Database(path, create=False))
    pool = max(settings.workers, 8) + 4
    verifier = Verifier(
        make_store(src_ep, settings, max_pool_connections=pool),
        make_store(dst_ep, settings, max_pool_connections=pool),
        KeyMapping.folders(src_ep.location, dst_ep.location), ledger, deep=deep, workers=settings.workers,
        key_filter=key_filter(settings), one_way=one_way, all_versions=settings.all_versions,
    )
    try:
        report = verifier.run()
    finally:
        if ledger is not None:
            ledger.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        summary = ", ".join(f"{report.count(v)} {v.value}" for v in Verdict)
        click.echo(f"verified {len(report.items)} objects: {summary}")
        for item in report.items:
            if item.verdict is not Verdict.EQUAL:
                click.echo(f"  {item.verdict.value:9s} {item.key}  ({item.reason})")
        if report.count(Verdict.UNPROVEN) and not deep:
            click.echo("unproven objects can be settled with --deep (reads both sides)")
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


@cli.command()
@click.argument("src")
@click.argument("dst")
@transfer_options
@filter_options
@click.option("--mode", type=click.Choice(["sync", "cluster", "lambda"]), default="sync", show_default=True,
              help="Who copies: this machine (sync), EC2 workers over SQS and DynamoDB, or the Lambda worker.")
@click.option("--throughput", help="Bytes per second the copy will move (e.g. 200MiB), for the duration.")
@click.option("--prices", "prices_file", type=click.Path(path_type=Path),
              help="Your price table (JSON, the shape of the shipped data/prices.json). [default: the shipped one]")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def estimate(src: str, dst: str, config_file: Path | None, mode: str, throughput: str | None,
             prices_file: Path | None, as_json: bool, **params: Any) -> None:
    """What copying SRC to DST would take: objects, bytes, requests by API, cost in USD, and time.

    It plans as sync does (both sides listed, nothing copied) and prices every request and byte."""
    from s3migrate.config import parse_size
    from s3migrate.estimate import estimate as run_estimate
    from s3migrate.estimate import load_prices

    settings = _settings(params, config_file)
    _configure_logging(settings)
    rate = None
    if throughput:
        try:
            rate = float(parse_size(throughput.strip().removesuffix("/s")))
        except ConfigError as exc:
            raise ConfigError(f"--throughput {throughput}: {exc}") from None
        if rate <= 0:
            raise ConfigError(f"--throughput {throughput}: must be more than 0")
    result = run_estimate(settings, src, dst, mode=mode, prices=load_prices(prices_file), throughput=rate)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(f"to copy: {count(result.objects, 'object')}, {format_size(result.bytes)} (listed {result.listed}, "
               f"unchanged {result.skipped}; largest {format_size(result.largest)})")
    click.echo("requests:")
    for name, number in sorted(result.requests.items()):
        click.echo(f"  {name:28s} {number:>12,}")
    click.echo(f"cost (USD, prices of {result.prices_as_of}, data transfer {result.data_transfer_text()}):")
    for name, value in result.cost_usd.items():
        click.echo(f"  {name:28s} {value:>14,.4f}")
    if result.seconds is not None:
        click.echo(f"time at {format_size(int(result.throughput or 0))}/s: {_duration(result.seconds)}")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage and configuration errors become one line and exit code 2."""
    try:
        cli.main(args=argv, prog_name="s3migrate", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.UsageError as exc:
        _err(exc.format_message())
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        _err(exc.format_message())
        sys.exit(exc.exit_code)
    except S3MigrateError as exc:
        _err(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("s3migrate: interrupted; run the same command again to continue", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(EXIT_FAILED)


def run() -> None:
    """Process entry point (the console script, ``python -m s3migrate``): :func:`main`, then a quick exit.

    Once the command is over and only the main thread is left, the interpreter's own teardown (every module
    and object of botocore, pydantic and click freed one by one) is 0.1-0.2 s of a short run's wall time, with
    nothing left to save: exit handlers run, output is flushed, then the process ends."""
    try:
        main()
        code = EXIT_OK
    except SystemExit as exc:
        if not isinstance(exc.code, int | None):
            raise  # a message to print: leave it to the interpreter
        code = exc.code or EXIT_OK
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        sys.exit(code)  # a thread still finishing its part: the interpreter waits for it
    atexit._run_exitfuncs()  # logging's flush, among others
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
