"""Two `berth serve` replicas (different ports) over one PostgreSQL and one S3 bucket,
as behind a load balancer: consecutive requests of one push alternate between them,
credentials from one are accepted by the other, concurrent pushes of one tag or blob
end consistent, and a replica killed with SIGKILL in the middle of a push loses nothing
that completed while the client finishes on the other."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from conftest import Server, free_port, start_server
from support import images
from support.blobstore import berth
from support.pulled import assert_pulled, pull
from support.registry import TIMEOUT, bearer, sha256_digest, token, token_response
from support.stores import Backends, Store

REPOSITORY = "replicas/app"
NAME = f"berth/{REPOSITORY}"


@dataclass
class Cluster:
    a: Server
    b: Server
    store: Store
    public_url: str
    root: Path

    def start(self, name: str) -> Server:
        """One more replica on the same storage."""
        return start_server(
            self.root / name, None, "--public-url", self.public_url, store=self.store
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, backends: Backends) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("replicas")
    store = backends.fresh("postgres-s3")
    port = free_port()
    # The "load balancer" is replica a's address: every replica names it in
    # realms and repository URIs, as each would name the real balancer.
    public_url = f"http://127.0.0.1:{port}"
    a = start_server(root / "a", port, "--public-url", public_url, store=store)
    b = start_server(root / "b", None, "--public-url", public_url, store=store)
    a.ecr().create_repository(repositoryName=REPOSITORY)
    yield Cluster(a, b, store, public_url, root)
    a.stop()
    b.stop()


class Alternating:
    """Raw /v2 requests with one bearer token, sent to replicas in turn."""

    def __init__(self, replicas: list[Server], token_value: str) -> None:
        self.replicas = replicas
        self.turn = 0
        self.headers = bearer(token_value)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
        replica = self.replicas[self.turn % len(self.replicas)]
        self.turn += 1
        headers = {**self.headers, **kwargs.pop("headers", {})}
        answer = requests.request(
            method, replica.url + path, headers=headers, timeout=TIMEOUT, **kwargs
        )
        assert answer.status_code < 500, answer.text
        return answer

    def push_blob(self, data: bytes, chunks: int = 1) -> None:
        started = self.request("POST", f"/v2/{NAME}/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        assert location.startswith("/v2/"), location  # relative: works through a balancer
        step = -(-len(data) // chunks)
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            patched = self.request(
                "PATCH",
                location,
                data=piece,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{start}-{start + len(piece) - 1}",
                },
            )
            assert patched.status_code == 202, patched.text
            assert patched.headers["Range"] == f"0-{start + len(piece) - 1}"
            location = patched.headers["Location"]
        done = self.request("PUT", location, params={"digest": sha256_digest(data)})
        assert done.status_code == 201, done.text

    def push_image(self, item: images.Image, tag: str, chunks: int = 1) -> requests.Response:
        for blob in item.blobs:
            self.push_blob(blob.data, chunks)
        return self.request(
            "PUT",
            f"/v2/{NAME}/manifests/{tag}",
            data=item.manifest,
            headers={"Content-Type": item.media_type},
        )


def _push_token(server: Server) -> str:
    return token(server, REPOSITORY, "pull,push", server.creds())


def test_push_alternating_replicas_then_pull_from_each(cluster: Cluster, tmp_path: Path) -> None:
    item = images.oci_image(7301, n_layers=2, layer_size=300_000)
    client = Alternating([cluster.a, cluster.b], _push_token(cluster.a))
    # Three chunks per blob: POST on one replica, PATCHes on both, PUT on either.
    answer = client.push_image(item, "v1", chunks=3)
    assert answer.status_code == 201, answer.text
    for replica in (cluster.a, cluster.b):
        got = requests.get(
            f"{replica.url}/v2/{NAME}/manifests/v1",
            headers={**client.headers, "Accept": item.media_type},
            timeout=TIMEOUT,
        )
        assert got.content == item.manifest
        pull(replica.ref(REPOSITORY, "v1"), tmp_path / replica.host.replace(":", "_"), item)
        assert_pulled(tmp_path / replica.host.replace(":", "_"), item)


def test_credentials_from_one_replica_accepted_by_the_other(cluster: Cluster) -> None:
    for issuer, other in ((cluster.a, cluster.b), (cluster.b, cluster.a)):
        password = issuer.password()
        granted = token_response(other, REPOSITORY, "pull,push", f"AWS:{password}")
        assert granted.status_code == 200, granted.text
        started = requests.post(
            f"{other.url}/v2/{NAME}/blobs/uploads/",
            headers=bearer(token(issuer, REPOSITORY, "pull,push", f"AWS:{password}")),
            timeout=TIMEOUT,
        )
        assert started.status_code == 202, started.text
        refused = token_response(other, REPOSITORY, "pull,push", f"AWS:{password}x")
        assert refused.status_code == 401


def test_concurrent_pushes_of_one_tag_and_blob_end_consistent(cluster: Cluster) -> None:
    pushed = [images.oci_image(7310 + i, n_layers=1, layer_size=20_000) for i in range(6)]
    shared = images.make_layer(7320, 200_000)
    tokens = [_push_token(cluster.a), _push_token(cluster.b)]

    def push(i: int) -> int:
        one, other = (cluster.a, cluster.b) if i % 2 else (cluster.b, cluster.a)
        client = Alternating([one, other], tokens[i % 2])
        client.push_blob(shared, chunks=2)
        return client.push_image(pushed[i], "race").status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(push, range(6)))
    assert statuses == [201] * 6

    ecr = cluster.b.ecr()
    details = ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
    by_digest = {d["imageDigest"]: d.get("imageTags", []) for d in details}
    assert {item.digest for item in pushed} <= set(by_digest)
    winners = [digest for digest, tags in by_digest.items() if "race" in tags]
    assert len(winners) == 1
    for replica in (cluster.a, cluster.b):
        headers = bearer(tokens[0])
        listed = requests.get(f"{replica.url}/v2/{NAME}/tags/list", headers=headers, timeout=30)
        assert listed.json()["tags"].count("race") == 1
        got = requests.get(
            f"{replica.url}/v2/{NAME}/manifests/race",
            headers={**headers, "Accept": pushed[0].media_type},
            timeout=TIMEOUT,
        )
        assert sha256_digest(got.content) == winners[0]
        blob = requests.get(
            f"{replica.url}/v2/{NAME}/blobs/{sha256_digest(shared)}", headers=headers, timeout=30
        )
        assert blob.content == shared
    described = ecr.describe_image_tags(repositoryName=REPOSITORY)["imageTagDetails"]
    assert [d["imageDetail"]["imageDigest"] for d in described if d["imageTag"] == "race"] == (
        winners
    )


def test_kill_9_mid_push_then_finish_on_the_other_replica(cluster: Cluster, tmp_path: Path) -> None:
    done_before = images.oci_image(7330, n_layers=1)
    interrupted = images.oci_image(7331, n_layers=2, layer_size=7 * 1024 * 1024)
    doomed = cluster.start("doomed")
    try:
        first = Alternating([doomed], _push_token(doomed))
        assert first.push_image(done_before, "before").status_code == 201

        big = interrupted.layers[0].data
        started = first.request("POST", f"/v2/{NAME}/blobs/uploads/")
        location = started.headers["Location"]
        head = 6 * 1024 * 1024  # more than one S3 part
        patched = first.request(
            "PATCH", location, data=big[:head], headers={"Content-Range": f"0-{head - 1}"}
        )
        assert patched.status_code == 202, patched.text

        # A second PATCH whose body stops half way; the replica dies meanwhile.
        sent = threading.Event()
        release = threading.Event()

        def body() -> Iterator[bytes]:
            yield big[head : head + 512 * 1024]
            sent.set()
            release.wait(30)
            yield big[head + 512 * 1024 :]

        outcome: list[object] = []

        def send() -> None:
            try:
                outcome.append(
                    requests.patch(
                        doomed.url + location, data=body(), headers=first.headers, timeout=30
                    )
                )
            except requests.RequestException as exc:
                outcome.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        assert sent.wait(30)
        time.sleep(0.3)
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(10)
        release.set()
        sender.join(30)
        assert outcome and isinstance(outcome[0], requests.RequestException), outcome
    finally:
        doomed.stop()

    # The client resumes on another replica from where that one says the upload stands.
    client = Alternating([cluster.b, cluster.a], _push_token(cluster.b))
    status = client.request("GET", location)
    assert status.status_code == 204, status.text
    stored = int(status.headers["Range"].split("-")[1]) + 1
    assert stored == head  # the interrupted chunk was never recorded
    resumed = client.request(
        "PATCH", location, data=big[stored:], headers={"Content-Range": f"{stored}-{len(big) - 1}"}
    )
    assert resumed.status_code == 202, resumed.text
    finished = client.request(
        "PUT", resumed.headers["Location"], params={"digest": sha256_digest(big)}
    )
    assert finished.status_code == 201, finished.text
    for blob in [interrupted.config, interrupted.layers[1]]:
        client.push_blob(blob.data)
    answer = client.request(
        "PUT",
        f"/v2/{NAME}/manifests/after",
        data=interrupted.manifest,
        headers={"Content-Type": interrupted.media_type},
    )
    assert answer.status_code == 201, answer.text

    for replica in (cluster.a, cluster.b):
        for tag, item in (("before", done_before), ("after", interrupted)):
            dest = tmp_path / f"{replica.host.replace(':', '_')}-{tag}"
            pull(replica.ref(REPOSITORY, tag), dest, item)
            assert_pulled(dest, item)
    checked = berth(cluster.store, cluster.root / "a", "fsck")
    assert checked.returncode == 0, checked.stdout


def test_concurrent_tags_of_one_image_from_both_replicas_are_all_kept(cluster: Cluster) -> None:
    item = images.oci_image(7340, n_layers=1, layer_size=10_000)
    tokens = [_push_token(cluster.a), _push_token(cluster.b)]
    assert Alternating([cluster.a, cluster.b], tokens[0]).push_image(item, "t0").status_code == 201

    def tag(i: int) -> int:
        replica = (cluster.a, cluster.b)[i % 2]
        return (
            Alternating([replica], tokens[i % 2])
            .request(
                "PUT",
                f"/v2/{NAME}/manifests/t{i}",
                data=item.manifest,
                headers={"Content-Type": item.media_type},
            )
            .status_code
        )

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(tag, range(1, 13))) == [201] * 12
    details = cluster.a.ecr().describe_images(
        repositoryName=REPOSITORY, imageIds=[{"imageDigest": item.digest}]
    )["imageDetails"]
    assert sorted(details[0]["imageTags"]) == sorted(f"t{i}" for i in range(13))


def test_one_upload_written_from_two_replicas_at_once_keeps_the_winners_bytes(
    cluster: Cluster,
) -> None:
    """Two requests writing the same upload at the same offset on two replicas (a
    confused client): one wins, the other is out of order (416), and the blob
    published under the winner's digest is the winner's bytes: the loser never writes
    into the upload, so its bytes cannot land last."""
    headers = bearer(_push_token(cluster.a))
    for round_ in range(4):
        started = requests.post(
            f"{cluster.a.url}/v2/{NAME}/blobs/uploads/", headers=headers, timeout=TIMEOUT
        )
        location = started.headers["Location"]
        bodies = {
            replica.url: bytes([round_ * 2 + n]) * (3 * 1024 * 1024)
            for n, replica in enumerate((cluster.a, cluster.b))
        }

        def patch(
            url: str, location: str = location, bodies: dict[str, bytes] = bodies
        ) -> tuple[str, int]:
            reply = requests.patch(
                url + location,
                data=bodies[url],
                headers={
                    **headers,
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"0-{len(bodies[url]) - 1}",
                },
                timeout=TIMEOUT,
            )
            return url, reply.status_code

        with ThreadPoolExecutor(2) as pool:
            statuses = dict(pool.map(patch, bodies))
        assert sorted(statuses.values()) == [202, 416], statuses
        winner = bodies[next(url for url, status in statuses.items() if status == 202)]
        done = requests.put(
            cluster.b.url + location,
            params={"digest": sha256_digest(winner)},
            headers=headers,
            timeout=TIMEOUT,
        )
        assert done.status_code == 201, done.text
        for replica in (cluster.a, cluster.b):
            got = requests.get(
                f"{replica.url}/v2/{NAME}/blobs/{sha256_digest(winner)}",
                headers=headers,
                timeout=TIMEOUT,
            )
            assert got.content == winner, (round_, replica.url)
