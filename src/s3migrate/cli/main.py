"""The ``s3migrate`` command line.

Exit codes: 0 every planned object is at the destination and verified; 1 some objects failed (each is
named with its reason); 2 usage, configuration or endpoint errors (one line, no traceback); 130 interrupted.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click

from s3migrate import __version__
from s3migrate.config import Settings, format_size, load_settings
from s3migrate.errors import S3MigrateError
from s3migrate.planner.plan import PlanStats
from s3migrate.progress.render import ProgressRenderer
from s3migrate.sync import SyncReport, SyncRun

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _err(message: str) -> None:
    click.echo(f"s3migrate: error: {message}", err=True)


def transfer_options(func: Any) -> Any:
    """The endpoint and tuning options shared by every command that copies."""
    options = [
        click.option("--from-profile", help="AWS profile for the source (shared config/credentials files)."),
        click.option("--to-profile", help="AWS profile for the destination."),
        click.option("--from-endpoint", help="S3-compatible endpoint URL of the source (path-style)."),
        click.option("--to-endpoint", help="S3-compatible endpoint URL of the destination (path-style)."),
        click.option("--from-region", help="Region of the source bucket."),
        click.option("--to-region", help="Region of the destination bucket."),
        click.option("--workers", type=int, help="Objects copied in parallel (MaxParallelFile). [default: 16]"),
        click.option("--threads", type=int, help="Parts in parallel within one object (MaxThread). [default: 4]"),
        click.option("--chunk-size", help="Part size, e.g. 8MiB; grown past 10,000 parts (ChunkSize). [default: 5MiB]"),
        click.option("--resumable-threshold",
                     help="At or under this size: one GET + one PUT (ResumableThreshold). [default: 5MiB]"),
        click.option("--storage-class", help="Destination storage class, e.g. STANDARD_IA (StorageClass)."),
        click.option("--ignore-file", type=click.Path(path_type=Path),
                     help="Shell-wildcard patterns matched against bucket/key, one per line."),
        click.option("--max-retries", type=int,
                     help="Failed attempts per object before giving up (MaxRetry). [default: 10]"),
        click.option("--job-timeout", type=float,
                     help="Seconds one object may run before it yields and resumes (JobTimeout). [default: 3600]"),
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


def _settings(params: dict[str, Any], config_file: Path | None) -> Settings:
    return load_settings(params, config_file)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=getattr(logging, settings.log_level),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)


def _print_plan(stats: PlanStats, heading: str) -> None:
    click.echo(
        f"{heading}: {stats.to_copy} objects, {format_size(stats.bytes_to_copy)} "
        f"(listed {stats.listed}, already there {stats.skipped}, ignored {stats.ignored})"
    )
    for key, reason in stats.examples:
        click.echo(f"  {key}  ({reason})")
    if stats.to_copy > len(stats.examples):
        click.echo(f"  ... and {stats.to_copy - len(stats.examples)} more")


def _print_report(report: SyncReport, settings: Settings) -> None:
    p = report.progress
    rate = p.bytes_sent / p.elapsed if p.elapsed > 0 else 0.0
    click.echo(
        f"copied {p.objects_done} objects ({format_size(p.bytes_sent)} sent, {format_size(p.bytes_reused)} already at "
        f"the destination) in {p.elapsed:.1f}s, {format_size(rate)}/s; "
        f"{report.plan.skipped} unchanged, {report.plan.ignored} ignored, {p.objects_failed} failed"
    )
    if report.failures:
        click.echo(f"{len(report.failures)} objects failed:", err=True)
        for what, reason in report.failures:
            click.echo(f"  {what}: {reason}", err=True)
        click.echo(f"(recorded in the ledger at {report.state_path})", err=True)


@cli.command()
@click.argument("src")
@click.argument("dst")
@transfer_options
@click.option("--state", type=click.Path(path_type=Path),
              help="The embedded state file (SQLite queue + ledger). [default: ./.s3migrate/SRC--DST-HASH.db]")
@click.option("--dry-run", is_flag=True, help="Print what would be copied, copy nothing.")
@click.option("--clean-unfinished-upload", is_flag=True, default=None,
              help="Abort unfinished multipart uploads under the destination first (CleanUnfinishedUpload).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before copying (it asks only on a terminal).")
def sync(src: str, dst: str, config_file: Path | None, dry_run: bool, yes: bool, **params: Any) -> None:
    """Copy every object under SRC that is missing or different under DST.

    SRC and DST are s3://BUCKET[/PREFIX]; s3://a/data s3://b/copy copies data/x to copy/x.
    Interrupt it at any moment and run the same command again: it continues where it stopped.
    """
    settings = _settings(params, config_file)
    _configure_logging(settings)
    run = SyncRun(settings, src, dst)
    if dry_run:
        _print_plan(run.dry_run(), "would copy")
        return
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not yes

    def confirm(stats: PlanStats) -> bool:
        if stats.to_copy == 0:
            return True
        _print_plan(stats, "to copy")
        return click.confirm(f"Copy {stats.to_copy} objects to {dst}?", default=False)

    interrupts = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            click.echo("s3migrate: stopped hard; run the same command again to continue", err=True)
            os._exit(EXIT_INTERRUPTED)
        click.echo("s3migrate: stopping after the parts in flight (press Ctrl-C again to stop now)", err=True)
        run.cancel()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with ProgressRenderer(run.tracker):
        report = run.run(confirm if interactive else None)
    if report.declined:
        click.echo("nothing copied")
        return
    _print_report(report, settings)
    if report.interrupted:
        click.echo("interrupted: run the same command again to continue", err=True)
    sys.exit(report.exit_code)


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
