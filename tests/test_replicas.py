"""A builder and a read-only replica on one index folder and one Redis: uploads reach the replica.

Both are real uvicorn servers on loopback (in threads of this process, each with its own app,
assistant and limiter), sharing what two machines would share: the corpus and index folders
and a real redis-server.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from app_fixtures import KEY, SECOND_KEY, serve
from conftest import MINI_DIR, FakeEncoder
from test_shared_state import RedisServer, redis_server  # noqa: F401  (the fixture)

from policyqa import Assistant, Settings
from policyqa_app import AppSettings

ADMIN_KEY = "admin-key-Rw7Ty2Qp9Ls4Kd8"

pytest_plugins = ["app_fixtures"]

NEW_TEXT = "第一条 社区食堂的餐具应当每餐消毒，消毒记录保存六个月。\n".encode()
NEW_ID = hashlib.sha256(NEW_TEXT).hexdigest()[:16]


@pytest.mark.slow
def test_an_upload_on_the_builder_is_served_by_the_read_only_replica(
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI_DIR, corpus)
    settings = Settings.from_env(
        environ={}, corpus_dirs=(corpus,), index_dir=tmp_path / "index", managed_dir=tmp_path / "managed"
    )
    encoder = FakeEncoder()
    builder = Assistant(settings, encoder=encoder)
    builder.build()
    replica = Assistant(settings, encoder=encoder, auto_build=False)

    def security(name: str, read_only: bool) -> AppSettings:
        return AppSettings.from_env(
            environ={}, feedback_db=tmp_path / f"{name}.sqlite3", redis_url=redis_server.url, read_only=read_only
        )

    with (
        serve(builder, security("builder", False), with_ui=False) as first,
        serve(replica, security("replica", True), with_ui=False) as second,
        first.client() as b,
        second.client() as r,
    ):
        refused = r.post("/api/v1/documents", files=[("files", ("食堂.txt", NEW_TEXT))])
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "read_only"

        added = b.post("/api/v1/documents", files=[("files", ("社区食堂卫生规定.txt", NEW_TEXT))])
        assert added.status_code == 201, added.text

        deadline = time.monotonic() + 30
        while NEW_ID not in {d["doc_id"] for d in r.get("/api/v1/documents").json()["documents"]}:
            assert time.monotonic() < deadline, "the replica never served the new build"
            time.sleep(0.2)
        found = r.post("/api/v1/search", json={"question": "社区食堂的消毒记录保存多久？", "doc_ids": [NEW_ID]})
        assert found.status_code == 200
        assert NEW_ID in found.text
        assert replica.generation == builder.generation
        ready = r.get("/readyz").json()
        assert (ready["shared_state"], ready["read_only"], ready["generation"]) == ("redis", True, builder.generation)


@pytest.mark.slow
def test_a_key_revoked_in_the_key_file_is_refused_by_both_servers(
    assistant: Assistant,
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    keys = tmp_path / "api-keys.txt"
    keys.write_text(f"{KEY}\n{SECOND_KEY}\n", encoding="utf-8")
    admins = tmp_path / "admin-keys.txt"
    admins.write_text(f"{ADMIN_KEY}\n", encoding="utf-8")

    def security(name: str) -> AppSettings:
        environ = {"POLICYQA_API_KEYS_FILE": str(keys), "POLICYQA_ADMIN_KEYS_FILE": str(admins)}
        feedback = tmp_path / f"{name}.sqlite3"
        return AppSettings.from_env(environ=environ, feedback_db=feedback, redis_url=redis_server.url)

    def refused_by_both(key: str, revoke: Callable[[], None]) -> None:
        for server in servers:
            with server.client(headers={"X-API-Key": key}) as client:
                assert client.get("/api/v1/documents").status_code == 200
        revoke()
        for server in servers:
            deadline = time.monotonic() + 30
            with server.client(headers={"X-API-Key": key}) as client:
                while (status := client.get("/api/v1/documents").status_code) != 401:
                    assert status == 200
                    assert time.monotonic() < deadline, "the revoked key was still accepted"
                    time.sleep(0.2)
            with server.client(headers={"X-API-Key": SECOND_KEY}) as client:
                assert client.get("/api/v1/documents").status_code == 200

    with (
        serve(assistant, security("a"), with_ui=False, wait_for_index=False) as first,
        serve(assistant, security("b"), with_ui=False, wait_for_index=False) as second,
    ):
        servers = (first, second)
        refused_by_both(KEY, lambda: keys.write_text(f"{SECOND_KEY}\n", encoding="utf-8"))
        refused_by_both(ADMIN_KEY, lambda: admins.write_text("# no admins for now\n", encoding="utf-8"))
