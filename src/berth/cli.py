"""The `berth` command."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
from pathlib import Path

import click
from aiohttp import web

from .app import create_app, prepare
from .config import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """berth: a self-hostable container registry that speaks the Amazon ECR Public API."""


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="BERTH_HOST",
    help="Address to listen on.",
)
@click.option(
    "--port", default=5000, show_default=True, envvar="BERTH_PORT", type=int, help="Port."
)
@click.option(
    "--data",
    default="berth-data",
    show_default=True,
    envvar="BERTH_DATA",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the SQLite database and the blobs.",
)
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
@click.option("--log-level", default="info", show_default=True, envvar="BERTH_LOG_LEVEL")
def serve(
    host: str,
    port: int,
    data: Path,
    public_url: str | None,
    account_id: str,
    alias: str,
    auth: str,
    credentials: Path | None,
    workers: int,
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
        public_url=public_url,
        account_id=account_id,
        alias=alias,
        auth=auth,
        credentials=credentials,
    )
    click.echo(
        f"berth listening on http://{host}:{port} (public URL {settings.effective_public_url}, "
        f"data in {data.resolve()}, {workers} worker{'s' if workers > 1 else ''})",
    )
    if workers == 1:
        _run(settings, False, log_level)
        return
    asyncio.run(prepare(settings))
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_run, args=(settings, True, log_level), name=f"berth-worker-{i}")
        for i in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(_signum: int, _frame: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )


def _run(settings: Settings, reuse_port: bool, log_level: str) -> None:
    """Serve in this process until SIGINT/SIGTERM."""
    _logging(log_level)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        reuse_port=reuse_port,
        print=None,
        access_log=None,
    )
