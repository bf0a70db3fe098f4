"""`flask models ...` and `flask guide ...`: the speech models on this machine, and building
guides from the command line with the same task code the workers run (speech venv only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from app.errors import DomainError
from app.extensions import db
from content.models import Site, Tour
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


class _Bars:
    """One progress bar per file being downloaded (click's), resumed ones start part-full."""

    def __init__(self) -> None:
        self._bars: dict[str, Any] = {}

    def __call__(self, progress: Any) -> None:
        key = f"{progress.model_id}/{progress.file}"
        bar = self._bars.get(key)
        if bar is None:
            label = f"{key[:40]:<40}" + (" (resumed)" if progress.resumed_from else "")
            bar = self._bars[key] = click.progressbar(length=max(1, progress.total), label=label)
            bar.__enter__()
        bar.update(progress.done - bar.pos)
        if progress.done >= progress.total:
            bar.__exit__(None, None, None)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.__exit__(None, None, None)


def _served_languages() -> list[str]:
    return list(current_app.config["LANGUAGES"])


@models_cli.command("download")
@click.argument("model_ids", nargs=-1)
@click.option(
    "--recommended",
    is_flag=True,
    help="The curated set for HOIAN_LANGUAGES: Argos, Piper and Whisper, each pinned by sha256.",
)
def models_download(model_ids: tuple[str, ...], recommended: bool) -> None:
    """Fetch models where there is internet: every file is checked (size, sha256, licence)
    before anything is installed, and an interrupted download resumes."""
    if bool(model_ids) == recommended:
        raise click.UsageError("name models, or give --recommended")
    bars = _Bars()
    try:
        if recommended:
            installed, skipped = stages.download_recommended(_served_languages(), progress=bars)
        else:
            installed, skipped = stages.download_models(list(model_ids), progress=bars), []
    except stages.StageError as exc:
        named = "" if recommended else f"{', '.join(model_ids)}: "
        raise click.ClickException(named + exc.message) from exc
    finally:
        bars.close()
    for state in installed:
        click.echo(f"{state.spec.id}: installed at {state.path}")
    for model_id, reason in skipped:
        click.echo(f"{model_id}: not downloaded ({reason})")


@models_cli.command("bundle")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def models_bundle(out: Path) -> None:
    """On a connected machine: write the recommended set for HOIAN_LANGUAGES into one tar,
    with its manifest, for `flask models install OUT.tar` on a server with no internet."""
    bars = _Bars()
    try:
        manifest = stages.write_bundle(out, _served_languages(), progress=bars)
    except stages.StageError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        bars.close()
    click.echo(f"{out}: {len(manifest['models'])} models")
    for entry in manifest["skipped"]:
        click.echo(f"{entry['id']}: left out ({entry['reason']})")


@models_cli.command("install")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def models_install(path: Path) -> None:
    """Install models from files: a bundle tar (all of it, verified, or nothing), an
    .argosmodel, a voice folder, a Whisper folder."""
    try:
        states = stages.install_model(path)
    except stages.StageError as exc:
        raise click.ClickException(exc.message) from exc
    for state in states:
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
            error, hearing = info["error"], info["hearing"]
            note = f" - {error['reason']}: {error['message']}" if error else ""
            if hearing and not hearing.get("intelligible", True):
                note += f" - held for an editor's review: {hearing.get('reason', '')}"
            click.echo(f"  {lang}: {info['status']}{note}")
    if failed:
        raise click.ClickException(f"{failed} of {len(slugs)} jobs failed")


@guide_cli.command("translate-texts")
@click.argument("slug", required=False)
@click.option("--all", "everything", is_flag=True, help="Every site and tour with a source text.")
@click.option("--langs", default=None, help="Comma-separated languages (default: all served).")
def guide_translate_texts(slug: str | None, everything: bool, langs: str | None) -> None:
    """Machine-translate sites' and tours' names, summaries and descriptions now, where no
    person wrote them (SLUG: a site's or a tour's)."""
    from guides import catalogue

    if bool(slug) == everything:
        raise click.UsageError("name a site or a tour, or give --all")
    owners: list[Site | Tour] = []
    for model in (Site, Tour):
        query = db.select(model).order_by(model.slug)
        owners += db.session.scalars(query if everything else query.where(model.slug == slug))
    if not owners:
        raise click.ClickException(f"no site or tour {slug!r}")
    for owner in owners:
        job = (
            catalogue.start_tour_texts_job(tour=owner, langs=_langs(langs))
            if isinstance(owner, Tour)
            else catalogue.start_catalogue_job(site=owner, langs=_langs(langs))
        )
        if job is None:
            click.echo(f"{owner.slug:<34} nothing to translate (a person wrote every language)")
            continue
        db.session.commit()
        job = executor.run_job_here(job_id=job.id)
        states = ", ".join(f"{t.lang}: {t.state}" for t in job.tasks)
        click.echo(f"{owner.slug:<34} {states}")


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
