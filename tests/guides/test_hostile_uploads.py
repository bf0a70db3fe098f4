"""An upload cannot exhaust a worker: a decompression bomb fails its task once, as
`audio_too_long`, in bounded memory; a task over the memory cap fails once as `out_of_memory`.
Both run in the real local worker (`python -m worker --task N`), whose peak memory is measured."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.test import EnvironBuilder

from tests.audio_pipeline.bombs import opus_granule_bomb
from tests.guides.conftest import SITE, job_state, worker_env

ROOT = Path(__file__).resolve().parents[2]


def _upload_bomb(app: Flask, headers: dict[str, str], tmp_path: Path) -> tuple[int, int]:
    """A 33-minute recording whose file claims 2 minutes, uploaded: (job id, source task id)."""
    from guides import jobs

    bomb = opus_granule_bomb(tmp_path / "bomb.opus", block_s=10, repeats=200, claimed_s=120)
    environ = EnvironBuilder(
        path=f"/api/v1/sites/{SITE}/narrations",
        method="POST",
        data={"audio": (io.BytesIO(bomb.read_bytes()), "narration.opus"), "langs": "vi"},
        headers=headers,
        content_type="multipart/form-data",
    ).get_environ()
    try:  # over 500 KB, werkzeug spools the body to a file its test client leaves open
        answer = app.test_client().open(environ)
    finally:
        environ["wsgi.input"].close()
    assert answer.status_code == 202, answer.get_json()
    job_id = answer.get_json()["id"]
    [source] = jobs.queued_tasks(jobs.get_job(job_id=job_id))
    return job_id, source


#: `python -m worker --task N`, then the worker process's own peak memory on stderr.
_WORKER = (
    "import sys, worker\n"
    "from tests.audio_pipeline.bombs import peak_rss_mb\n"
    "code = worker.main(sys.argv[1:])\n"
    "print('peak', peak_rss_mb(), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _run_worker(app: Flask, task_id: int, **env: str) -> tuple[str, float]:
    """Run one task in the local worker's code: what it printed, and its peak RSS in MB."""
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, "--task", str(task_id)],
        cwd=ROOT,
        env=worker_env(app, **env),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    peak = done.stderr.decode().rsplit("peak ", 1)[1]
    return done.stdout.decode().strip(), float(peak)


def _source_stage(job_id: int) -> dict[str, Any]:
    state = job_state(job_id)
    [source] = [stage for stage in state["stages"] if stage["stage"] == "source"]
    return {**source, "job": state["status"]}


def test_a_decompression_bomb_fails_its_task_once_in_bounded_memory(
    pipeline_app: Flask, editor_headers: dict[str, str], tmp_path: Path
) -> None:
    job_id, task_id = _upload_bomb(pipeline_app, editor_headers, tmp_path)
    printed, peak_mb = _run_worker(pipeline_app, task_id, HOIAN_MAX_AUDIO_SECONDS="300")
    source = _source_stage(job_id)
    assert printed == "failed" and source["status"] == "failed", source
    assert source["error"]["reason"] == "audio_too_long" and source["attempts"] == 1
    assert source["job"] == "failed"
    assert peak_mb < 300, peak_mb  # decoding all of it held 0.8 GB of samples
    # Failed for good: nothing is left to retry.
    assert _run_worker(pipeline_app, task_id)[0] == "not_runnable"


def test_a_task_over_the_memory_cap_fails_once_by_name(
    pipeline_app: Flask, editor_headers: dict[str, str], tmp_path: Path
) -> None:
    # With a two-hour limit, the bomb's decode wants 1.4 GB of samples: over a 1 GB cap.
    job_id, task_id = _upload_bomb(pipeline_app, editor_headers, tmp_path)
    printed, _ = _run_worker(
        pipeline_app, task_id, HOIAN_MAX_AUDIO_SECONDS="7200", HOIAN_TASK_MEMORY_MB="1024"
    )
    source = _source_stage(job_id)
    assert printed == "failed" and source["error"]["reason"] == "out_of_memory", source
    assert "1024 MB" in source["error"]["message"] and source["attempts"] == 1
    assert _run_worker(pipeline_app, task_id)[0] == "not_runnable"
