"""`flask models ...` and `flask guide ...`: the speech models on this machine, and building
guides from the command line with the same task code the workers run (speech venv only)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.errors import DomainError
from app.extensions import db
from content.models import Site
from guides import executor, narrations, presenters, stages
from guides.models import PipelineTask

models_cli = AppGroup("models", help="Speech models: list, download, install from files.")
guide_cli = AppGroup("guide", help="Build audio guides with the speech pipeline.")


@models_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
def models_list(as_json: bool) -> None:
    """Every model the pipeline knows: engine, languages, licence, installed or not."""
    states = stages.model_registry().states()
    if as_json:
        click.echo(json.dumps([state.as_dict() for state in states], indent=2))
        return
    for state in states:
        spec = state.spec
        mark = "installed" if state.installed else "missing"
        click.echo(
            f"{spec.id:<28} {spec.kind.value:<4} {spec.engine:<16} "
            f"{','.join(spec.languages)[:20]:<20} {spec.licence:<22} {mark}"
            + (f"  ({state.detail})" if state.detail else "")
        )


@models_cli.command("download")
@click.argument("model_ids", nargs=-1, required=True)
def models_download(model_ids: tuple[str, ...]) -> None:
    """Fetch models where there is internet (Argos packages, Whisper, Coqui)."""
    for model_id in model_ids:
        try:
            state = stages.download_model(model_id)
        except stages.StageError as exc:
            raise click.ClickException(f"{model_id}: {exc.message}") from exc
        click.echo(f"{model_id}: installed at {state.path}")


@models_cli.command("install")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def models_install(path: Path) -> None:
    """Install a model from files: an .argosmodel, a voice folder, a Whisper folder."""
    try:
        state = stages.install_model(path)
    except stages.StageError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{state.spec.id}: installed at {state.path}")


def _langs(value: str | None) -> list[str] | None:
    return [code.strip() for code in value.split(",") if code.strip()] if value else None


@guide_cli.command("build")
@click.argument("site", required=False)
@click.option("--all", "all_sites", is_flag=True, help="Every site that has a narration.")
@click.option("--langs", default=None, help="Comma-separated languages (default: all served).")
@click.option(
    "--publish/--review",
    default=True,
    show_default=True,
    help="Publish what is built at once, or leave it for an editor to review.",
)
def guide_build(site: str | None, all_sites: bool, langs: str | None, publish: bool) -> None:
    """Build a site's guides now, in this process, with progress bars."""
    if bool(site) == all_sites:
        raise click.UsageError("name a site, or give --all")
    if all_sites:
        slugs = [
            s.slug
            for s in db.session.scalars(db.select(Site).order_by(Site.slug))
            if narrations.current_narration(s) is not None
        ]
    else:
        slugs = [str(site)]
    failed = 0
    for slug in slugs:
        try:
            job = narrations.start_build(site_slug=slug, langs=_langs(langs))
        except DomainError as exc:
            raise click.ClickException(f"{slug}: {exc.message}") from exc
        job.auto_publish = publish
        db.session.commit()
        total = len(job.tasks)
        with click.progressbar(length=total, label=f"{slug:<34}", show_pos=True) as bar:

            def advance(task: PipelineTask, state: str) -> None:
                bar.update(1)

            job = executor.run_job_here(job_id=job.id, on_task=advance)
            bar.update(total - bar.pos)  # tasks ended without running (pending, cancelled)
        failed += job.state == "failed"
        for lang, info in presenters.job_view(job)["languages"].items():
            error = info["error"]
            note = f" - {error['reason']}: {error['message']}" if error else ""
            click.echo(f"  {lang}: {info['status']}{note}")
    if failed:
        raise click.ClickException(f"{failed} of {len(slugs)} jobs failed")


@guide_cli.command("work")
@click.option("--job", "job_id", type=int, default=None, help="Only this job's tasks.")
def guide_work(job_id: int | None) -> None:
    """Run queued pipeline tasks here until none is left (the local executor)."""
    ran = executor.work(job_id=job_id)
    click.echo(f"ran {ran} tasks")


@guide_cli.command("run-task")
@click.argument("task_id", type=int)
def guide_run_task(task_id: int) -> None:
    """Run one pipeline task (what an RQ worker does)."""
    click.echo(executor.execute(task_id))


@guide_cli.command("sweep")
def guide_sweep() -> None:
    """Queue tasks that are due or whose worker died (RQ workers started with
    `-w worker.PipelineWorker` do this themselves)."""
    ids = executor.requeue_stalled()
    click.echo(f"queued {len(ids)} tasks on {current_app.config.get('REDIS_URL') or 'local'}")
