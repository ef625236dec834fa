"""The `berth` command."""

from __future__ import annotations

import asyncio
import errno
import logging
import multiprocessing
import multiprocessing.connection
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
import sqlalchemy.exc
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .app import close_core, create_app, open_core, prepare
from .config import Settings
from .core import fsck as fsck_check
from .core import gc
from .core.service import CoreSettings
from .store.metadata import open_metadata
from .store.metadata.schema import SchemaOutOfDate

T = TypeVar("T")

RESTART_AFTER = 10.0  # seconds a worker must have lived to be replaced when it dies


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """berth: a self-hostable container registry that speaks the Amazon ECR Public API."""


def storage_options(command: Callable[..., None]) -> Callable[..., None]:
    """--data, --metadata, --blobs: where berth keeps what it stores."""
    for option in reversed(
        [
            click.option(
                "--data",
                default="berth-data",
                show_default=True,
                envvar="BERTH_DATA",
                type=click.Path(file_okay=False, path_type=Path),
                help="Folder for the SQLite database and the blobs (the embedded default).",
            ),
            click.option(
                "--metadata",
                envvar="BERTH_METADATA",
                help="Metadata database URL: sqlite:///PATH or postgresql://USER@HOST/DB "
                "[default: sqlite in --data]",
            ),
            click.option(
                "--blobs",
                envvar="BERTH_BLOBS",
                help="Blob store URL: file:///PATH or s3://BUCKET/PREFIX [default: --data]",
            ),
        ]
    ):
        command = option(command)
    return command


def grace_options(command: Callable[..., None]) -> Callable[..., None]:
    """--gc-grace and --upload-max-age: what garbage collection leaves alone."""
    command = click.option(
        "--upload-max-age",
        default=86400.0,
        show_default=True,
        envvar="BERTH_UPLOAD_MAX_AGE",
        type=click.FloatRange(min=0),
        help="Seconds an idle upload session is kept before it is purged.",
    )(command)
    return click.option(
        "--gc-grace",
        default=3600.0,
        show_default=True,
        envvar="BERTH_GC_GRACE",
        type=click.FloatRange(min=0),
        help="Seconds during which a new blob or link is never collected.",
    )(command)


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="BERTH_HOST",
    help="Address to listen on.",
)
@click.option(
    "--port",
    default=5000,
    show_default=True,
    envvar="BERTH_PORT",
    type=click.IntRange(1, 65535),
    help="Port.",
)
@storage_options
@click.option(
    "--public-url",
    envvar="BERTH_PUBLIC_URL",
    help="Base URL clients use to reach berth; repository URIs use its host. "
    "[default: http://HOST:PORT]",
)
@click.option(
    "--account-id",
    default=Settings.account_id,
    show_default=True,
    envvar="BERTH_ACCOUNT_ID",
    help="The default account: callers whose access key id is not a 12-digit account id.",
)
@click.option(
    "--alias",
    default=Settings.alias,
    show_default=True,
    envvar="BERTH_ALIAS",
    help="The default account's registry alias (the first path part on /v2).",
)
@click.option(
    "--auth",
    type=click.Choice(["open", "strict"]),
    default="open",
    show_default=True,
    envvar="BERTH_AUTH",
    help="Control-plane SigV4: open accepts any well-formed signature; strict verifies "
    "signatures against the keys in --credentials.",
)
@click.option(
    "--credentials",
    envvar="BERTH_CREDENTIALS",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="TOML file of access keys for --auth strict (see the README).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    envvar="BERTH_WORKERS",
    type=click.IntRange(min=1),
    help="Worker processes sharing the port (SO_REUSEPORT); match the cores.",
)
@click.option(
    "--redirect-blobs",
    is_flag=True,
    envvar="BERTH_REDIRECT_BLOBS",
    help="Answer blob GETs with a 307 to a short-lived presigned URL of the blob store "
    "(S3), so bytes bypass berth.",
)
@click.option(
    "--gc-interval",
    default=3600.0,
    show_default=True,
    envvar="BERTH_GC_INTERVAL",
    type=click.FloatRange(min=0),
    help="Seconds between online garbage collections (0: off).",
)
@click.option(
    "--token-ttl",
    default=CoreSettings.token_ttl,
    show_default=True,
    envvar="BERTH_TOKEN_TTL",
    type=click.IntRange(min=1),
    help="Seconds a /token bearer token is valid.",
)
@grace_options
@click.option("--access-log", is_flag=True, envvar="BERTH_ACCESS_LOG", help="Log every request.")
@click.option("--log-level", default="info", show_default=True, envvar="BERTH_LOG_LEVEL")
def serve(
    host: str,
    port: int,
    data: Path,
    metadata: str | None,
    blobs: str | None,
    public_url: str | None,
    account_id: str,
    alias: str,
    auth: str,
    credentials: Path | None,
    workers: int,
    redirect_blobs: bool,
    gc_interval: float,
    gc_grace: float,
    upload_max_age: float,
    token_ttl: int,
    access_log: bool,
    log_level: str,
) -> None:
    """Serve the ECR Public API, the /v2 registry and the token service."""
    _logging(log_level)
    if auth == "strict" and credentials is None:
        raise click.UsageError("--auth strict needs --credentials FILE")
    settings = Settings(
        host=host,
        port=port,
        data=data,
        metadata_url=metadata,
        blobs_url=blobs,
        public_url=public_url,
        account_id=account_id,
        alias=alias,
        auth=auth,
        credentials=credentials,
        redirect_blobs=redirect_blobs,
        gc_interval=gc_interval,
        gc_grace=gc_grace,
        upload_max_age=upload_max_age,
        token_ttl=token_ttl,
    )
    _run_async(prepare(settings))
    announce = (
        f"berth listening on http://{host}:{port} (public URL {settings.effective_public_url}, "
        f"metadata {settings.effective_metadata_url}, blobs {settings.effective_blobs_url}, "
        f"{workers} worker{'s' if workers > 1 else ''})"
    )
    if workers == 1:
        _run(settings, False, log_level, access_log, announce)
        return
    _supervise(workers, (settings, True, log_level, access_log), announce)


def _supervise(workers: int, run_args: tuple[object, ...], announce: str) -> None:
    """Run `workers` processes of `_run` on one port; replace one that dies (a
    crash, an OOM kill). One that dies within RESTART_AFTER seconds of its start
    would only die again: then every worker stops and berth exits 1, for the
    service manager to see."""
    context = multiprocessing.get_context("spawn")
    processes: list[Any] = []
    started: list[float] = []
    stopping = False

    def spawn(i: int) -> None:
        process = context.Process(
            target=_run,
            args=(*run_args, announce if i == 0 and not processes else None),
            name=f"berth-worker-{i}",
        )
        process.start()
        if i < len(processes):
            processes[i], started[i] = process, time.monotonic()
        else:
            processes.append(process)
            started.append(time.monotonic())

    def stop(_signum: int = 0, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()

    for i in range(workers):
        spawn(i)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        multiprocessing.connection.wait([p.sentinel for p in processes], timeout=1.0)
        for i, process in enumerate(processes):
            if stopping or process.exitcode is None:
                continue
            lived = time.monotonic() - started[i]
            click.echo(
                f"berth worker {i} (pid {process.pid}) exited with code {process.exitcode} "
                f"after {lived:.0f} s",
                err=True,
            )
            if lived < RESTART_AFTER:
                stop()
                for other in processes:
                    other.join()
                sys.exit(1)
            spawn(i)
    for process in processes:
        process.join()


def _malformed_http_is_no_error(record: logging.LogRecord) -> bool:
    """aiohttp logs a request it cannot parse (a line past its limits, a bad header) as
    an error with a traceback; it is the client's fault, already answered 400: one line."""
    if record.exc_info and isinstance(record.exc_info[1], HttpProcessingError):
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg = f"refused a malformed request from {remote}: {record.exc_info[1]}"
        record.args = ()
        record.exc_info = None
        record.levelno, record.levelname = logging.INFO, "INFO"
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)
    return True


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.server").addFilter(_malformed_http_is_no_error)


def _run(
    settings: Settings, reuse_port: bool, log_level: str, access_log: bool, announce: str | None
) -> None:
    """Serve in this process until SIGINT/SIGTERM; `announce` is printed once the port is bound."""
    _logging(log_level)
    # The standard event loop, not uvloop: uvloop has no native sendfile (blob
    # pulls would not be zero-copy) and measured slower on blob pushes.
    try:
        web.run_app(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            reuse_port=reuse_port,
            print=(lambda _message: click.echo(announce)) if announce else None,
            access_log=logging.getLogger("berth.access") if access_log else None,
        )
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        click.echo(f"Error: cannot listen on {settings.host}:{settings.port}: {exc}", err=True)
        sys.exit(1)


@main.group()
def db() -> None:
    """Manage the metadata database."""


@db.command()
@storage_options
def upgrade(data: Path, metadata: str | None, blobs: str | None) -> None:
    """Bring the metadata database to the schema this berth needs."""
    del blobs
    url = Settings(data=data, metadata_url=metadata).effective_metadata_url
    if url.startswith("sqlite"):
        data.mkdir(parents=True, exist_ok=True)

    async def run() -> tuple[str | None, str]:
        store = open_metadata(url)
        try:
            return await store.upgrade_schema()
        finally:
            await store.close()

    before, after = _run_async(run())
    click.echo(f"schema at {after}" + (f" (was {before})" if before != after else " (no change)"))


def _storage_settings(data: Path, metadata: str | None, blobs: str | None) -> Settings:
    """The storage of an existing berth: gc and fsck never create an empty one."""
    settings = Settings(data=data, metadata_url=metadata, blobs_url=blobs)
    url = settings.effective_metadata_url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        raise click.ClickException(f"no berth database at {url}: check --data or --metadata")
    return settings


def _run_async(work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; a storage URL or database that cannot be used is a clear
    error, not a traceback."""
    try:
        return asyncio.run(work)
    except SchemaOutOfDate as exc:
        raise click.ClickException(str(exc)) from None
    except (ValueError, OSError, sqlalchemy.exc.ArgumentError, sqlalchemy.exc.DBAPIError) as exc:
        detail = getattr(exc, "orig", None) or exc
        raise click.ClickException(f"cannot open storage: {detail}") from None


@main.command("gc")
@storage_options
@grace_options
@click.option("--dry-run", is_flag=True, help="Report what would be freed; change nothing.")
def collect_garbage(
    data: Path,
    metadata: str | None,
    blobs: str | None,
    gc_grace: float,
    upload_max_age: float,
    dry_run: bool,
) -> None:
    """Delete blobs and links nothing references, and stale upload sessions."""

    async def run() -> gc.Report:
        core = await open_core(_storage_settings(data, metadata, blobs))
        try:
            with click.progressbar(
                length=0, label="collecting", show_pos=True, file=sys.stderr
            ) as bar:

                def progress(_stage: str, count: int) -> None:
                    bar.length = (bar.length or 0) + count
                    bar.update(count)

                return await gc.collect(
                    core,
                    grace=gc_grace,
                    upload_max_age=upload_max_age,
                    dry_run=dry_run,
                    progress=progress,
                )
        finally:
            await close_core(core)

    report = _run_async(run())
    verb = "would free" if dry_run else "freed"
    click.echo(
        f"{verb} {report.blobs_deleted} blobs ({_size(report.bytes_freed)}), "
        f"{report.links_removed} repository links, {report.uploads_purged} stale uploads"
    )


@main.command()
@storage_options
def fsck(data: Path, metadata: str | None, blobs: str | None) -> None:
    """Report mismatches between the metadata and the blob store (exit 1 if any)."""

    async def run() -> tuple[int, list[fsck_check.Problem]]:
        core = await open_core(_storage_settings(data, metadata, blobs))
        try:
            return await fsck_check.check(core)
        finally:
            await close_core(core)

    checked, problems = _run_async(run())
    for problem in problems:
        click.echo(f"{problem.kind}\t{problem.digest}\t{problem.detail}")
    click.echo(f"checked {checked} blobs: {len(problems)} problem(s)")
    if problems:
        sys.exit(1)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
