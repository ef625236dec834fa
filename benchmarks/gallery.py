"""Gallery page speed: a repository with 10,000 tags, server side.

    python benchmarks/gallery.py                    # SQLite, 10,000 tags, 15 runs
    python benchmarks/gallery.py --tags 2000 --runs 5
    python benchmarks/gallery.py --tags 100 --repositories 2000
    python benchmarks/gallery.py --metadata-url postgresql://postgres@127.0.0.1:5432/bench

Builds berth's own app in this process (no network between the timer and the
handler), fills one repository through the core with `--tags` distinct images,
each under its own tag (and ten index images with two children, so the tag
table's platform lookup has work), then times whole GETs of the gallery pages
through aiohttp's test client: the first page of the tag table (the figure the
issue asks for), a deep page, the home page and a search. Reports the median and
the slowest of `--runs` timed requests after one warm-up request each.
`--repositories N` adds N more public repositories (each with a 25,600-character
about text) to time the home page and search over many.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from berth.app import create_app
from berth.appkeys import CORE
from berth.config import Settings
from berth.core import digests, images, repositories, uploads

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
NAME = "bench/tags"


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _blob(core, repository, data: bytes) -> dict[str, object]:  # type: ignore[no-untyped-def]
    upload = await uploads.start_upload(core, repository)
    digest, size = await uploads.complete(
        core, repository, upload.id, [digests.of(data)], _chunks(data)
    )
    return {"digest": digest, "size": size}


async def fill(core, count: int) -> float:  # type: ignore[no-untyped-def]
    """The repository with `count` tags; returns the seconds it took."""
    started = time.perf_counter()
    account = core.settings.account_id
    repository = await repositories.create_repository(
        core,
        account,
        NAME,
        catalog={
            "description": "ten thousand tags",
            "architectures": ("x86-64", "ARM 64"),
            "operating_systems": ("Linux",),
            "about_text": "# Bench\n\nMany tags.",
            "usage_text": "`docker pull`",
        },
    )
    config = {**await _blob(core, repository, b'{"architecture":"amd64","os":"linux"}')}
    layer = {**await _blob(core, repository, b"layer bytes" * 100)}
    config["mediaType"], layer["mediaType"] = OCI_CONFIG, OCI_LAYER

    def manifest(n: int) -> bytes:
        return json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config,
                "layers": [layer],
                "annotations": {"n": str(n)},
            }
        ).encode()

    for n in range(count):
        body = manifest(n)
        if n % (count // 10 or 1) == 0:  # now and then an index, tagged
            await images.put_image(core, repository, body, media_type=OCI_MANIFEST)
            child = {"mediaType": OCI_MANIFEST, "digest": digests.of(body), "size": len(body)}
            index = {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {**child, "platform": {"os": "linux", "architecture": "amd64"}},
                    {**child, "platform": {"os": "linux", "architecture": "arm64"}},
                ],
            }
            body = json.dumps(index).encode()
            media_type = OCI_INDEX
        else:
            media_type = OCI_MANIFEST
        await images.put_image(core, repository, body, media_type=media_type, tag=f"t{n:05d}")
    return time.perf_counter() - started


async def more_repositories(core, count: int) -> float:  # type: ignore[no-untyped-def]
    """`count` more public repositories of one image each, for the home page and search."""
    started = time.perf_counter()
    for n in range(count):
        repository = await repositories.create_repository(
            core,
            core.settings.account_id,
            f"bench/many-{n:05d}",
            catalog={"description": f"repository number {n}", "about_text": "x" * 25_600},
        )
        config = {**await _blob(core, repository, b'{"n":%d}' % n), "mediaType": OCI_CONFIG}
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                           "layers": []}).encode()  # fmt: skip
        await images.put_image(core, repository, body, media_type=OCI_MANIFEST, tag="latest")
    return time.perf_counter() - started


async def timed(client: TestClient, path: str, runs: int) -> tuple[float, float, int]:
    """Median and slowest seconds of `runs` GETs of `path`, after one warm-up."""
    first = await client.get(path)
    body = await first.read()
    assert first.status == 200, (path, first.status, body[:500])
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(path)
        await response.read()
        took.append(time.perf_counter() - started)
        assert response.status == 200
    return statistics.median(took), max(took), len(body)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--repositories", type=int, default=0, help="more repositories, each with a long about text"
    )
    parser.add_argument("--metadata-url", help="default: SQLite in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="berth-bench-gallery-") as tmp:
        settings = Settings(data=Path(tmp), metadata_url=args.metadata_url, gc_interval=0)
        app = await create_app(settings)
        core = app[CORE]
        seconds = await fill(core, args.tags)
        print(f"filled {args.tags} tags in {seconds:.1f} s ({settings.effective_metadata_url})")
        if args.repositories:
            seconds = await more_repositories(core, args.repositories)
            print(f"added {args.repositories} repositories in {seconds:.1f} s")
        alias = core.settings.alias
        pages = {
            "repository, first page of tags": f"/gallery/{alias}/{NAME}",
            "repository, page 100 of tags": f"/gallery/{alias}/{NAME}?page=100",
            "home": "/",
            "search": "/gallery?q=ten&architecture=x86-64",
        }
        async with TestClient(TestServer(app)) as client:
            for label, path in pages.items():
                median, slowest, size = await timed(client, path, args.runs)
                print(
                    f"{label:34} median {median * 1000:7.1f} ms   "
                    f"slowest {slowest * 1000:7.1f} ms   {size / 1000:.0f} kB"
                )


if __name__ == "__main__":
    asyncio.run(main())
