"""The speech work of each task: check or transcribe the source, translate, speak. The only
module of the Flask side that imports `audio_pipeline`, and only inside the functions that run
a stage, so the web process can import the guide domain without loading the speech stack."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app
from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from audio_pipeline.settings import PipelineSettings
from content.models import Provenance, Site, SiteText, Tour, TourText
from guides import publishing
from guides.models import (
    CATALOGUE_JOB,
    GlossaryTerm,
    Guide,
    Narration,
    NarrationText,
    PipelineJob,
    PipelineTask,
    SourceKind,
    TaskStage,
)
from guides.narrations import upload_limit_bytes
from guides.published import media_dir

if TYPE_CHECKING:
    from audio_pipeline.steps import Track

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "content" / "seed" / "glossary.yaml"


class Progress(Protocol):
    """Where a stage reports how far it got (the task's heartbeat)."""

    progress: float | None


class StageError(Exception):
    """A stage could not do its work: `reason` and `message` for staff, whether trying again
    may help, and whether it waits for a model to be installed."""

    def __init__(
        self, reason: str, message: str, *, retryable: bool = False, model_missing: bool = False
    ) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message
        self.retryable, self.model_missing = retryable, model_missing


@dataclass
class Outcome:
    """What a stage did; `apply` writes its results inside the task's final transaction."""

    event: str  # succeed, skip
    result: dict[str, Any]
    apply: Callable[[], None] | None = None


# --- settings and engines (one set per worker process) ----------------------------------------


def pipeline_settings() -> PipelineSettings:
    """The engines' settings: HOIAN_* variables, the upload limit from the app's config."""
    override = current_app.config.get("PIPELINE_SETTINGS")
    if isinstance(override, PipelineSettings):
        return override
    return PipelineSettings.from_env(max_upload_bytes=upload_limit_bytes())


def settings_environment() -> dict[str, str]:
    """The HOIAN_* variables that give a worker process settings passed to this app in code."""
    override = current_app.config.get("PIPELINE_SETTINGS")
    if not isinstance(override, PipelineSettings):
        return {}

    def bounds(pairs: tuple[tuple[str, float], ...]) -> str:
        return ",".join(f"{lang}={bound}" for lang, bound in pairs)

    return {
        "HOIAN_MODEL_DIR": str(override.model_dir),
        "HOIAN_SPEECH_THREADS": str(override.threads),
        "HOIAN_HEARING_BOUNDS": bounds(override.hearing_bounds),
        "HOIAN_CALIBRATION_BOUNDS": bounds(override.calibration_bounds),
    }


@dataclass
class Engines:
    """Loaded models, kept for every task a worker runs."""

    settings: PipelineSettings
    _cache: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    def voices(self) -> Any:
        from audio_pipeline.tts import VoiceRegistry

        # With Whisper at hand, a voice is offered for a language only once its calibration
        # sentences are understood (cached per voice, version and Whisper model).
        return self.get(
            "voices",
            lambda: VoiceRegistry.from_settings(self.settings, transcriber=self.transcriber()),
        )

    def transcriber(self) -> Any:
        from audio_pipeline.stt import Transcriber

        return self.get("stt", lambda: Transcriber(self.settings))

    def translator(self) -> Any:
        from audio_pipeline.mt import ArgosTranslator

        return self.get("mt", lambda: ArgosTranslator(self.settings))

    def release_translators(self) -> None:
        """Free the translation models before speech needs the memory (a worker runs both)."""
        translator = self._cache.get("mt")
        if translator is not None:
            translator.release()

    def glossary(self) -> Any:
        from audio_pipeline.glossary import Glossary

        return self.get("glossary", lambda: Glossary.from_yaml(GLOSSARY))


_engines: dict[PipelineSettings, Engines] = {}


def engines() -> Engines:
    settings = pipeline_settings()
    if settings not in _engines:
        _engines[settings] = Engines(settings)
    return _engines[settings]


def model_registry() -> Any:
    """The speech models this machine has or can get (`flask models ...`)."""
    from audio_pipeline.registry import ModelRegistry

    return ModelRegistry(pipeline_settings())


@contextmanager
def _model_errors() -> Iterator[None]:
    """The model tools' refusals (checksum, licence, disk, bundle) as StageErrors."""
    from audio_pipeline.errors import PipelineError

    try:
        yield
    except PipelineError as exc:
        raise StageError(exc.reason, exc.message) from exc


def _catalogue() -> Any:
    """The curated model catalogue, read through the operator's mirror when one is set
    (`HOIAN_MODEL_MIRROR`: a LAN copy of the publishers' files), or another catalogue file."""
    from audio_pipeline import downloads

    path = current_app.config.get("MODEL_CATALOGUE")
    return downloads.Catalogue.load(
        Path(path) if path else None, mirror=current_app.config.get("MODEL_MIRROR") or None
    )


def download_models(model_ids: list[str], *, progress: Any = None) -> list[Any]:
    """Fetch, verify and install models of the curated catalogue (or known to the registry)
    where there is internet; their installed states."""
    from audio_pipeline import downloads

    registry = model_registry()
    with _model_errors():
        catalogue = _catalogue()
        known = {model.id for model in catalogue.models}
        listed = [model_id for model_id in model_ids if model_id in known]
        states = downloads.download_models(registry, listed, catalogue=catalogue, progress=progress)
        states += [registry.download(model_id) for model_id in model_ids if model_id not in known]
    return states


def download_recommended(
    languages: list[str], *, progress: Any = None
) -> tuple[list[Any], list[tuple[str, str]]]:
    """The curated set for these languages: what was installed, and what was left out and why."""
    from audio_pipeline import downloads

    with _model_errors():
        report = downloads.download_recommended(
            model_registry(), languages, catalogue=_catalogue(), progress=progress
        )
    return report.installed, report.skipped


def write_bundle(out: Path, languages: list[str], *, progress: Any = None) -> dict[str, Any]:
    """A tar of the curated set for these languages with its manifest, for an offline server."""
    from audio_pipeline import downloads

    with _model_errors():
        return downloads.write_bundle(
            model_registry(), out, languages, catalogue=_catalogue(), progress=progress
        )


def install_model(path: Path) -> list[Any]:
    """Install models from files: a bundle tar (verified whole, or nothing), an .argosmodel, a
    voice or Whisper folder; their states."""
    from audio_pipeline import downloads

    registry = model_registry()
    with _model_errors():
        if path.is_file() and path.suffix == ".tar":
            return downloads.install_bundle(registry, path)
        return [registry.install(path)]


def _name_term(texts: list[Any], names: Mapping[str, str | None]) -> dict[str, Any] | None:
    """A site's or tour's name as a glossary term: its form in every language it has a text
    in, with `names` put in their languages' places (None leaves a language out), and the
    unaccented spelling of each Latin-script name as a variant Whisper may write."""
    from unidecode import unidecode

    from audio_pipeline.languages import language

    forms = {text.lang: text.name for text in texts if text.name.strip()}
    for lang, name in names.items():
        if name:
            forms[lang] = name
        else:
            forms.pop(lang, None)
    if len(forms) < 2:
        return None
    variants = {
        lang: [unidecode(name)]
        for lang, name in forms.items()
        if language(lang).latin and unidecode(name) != name
    }
    return {"forms": forms, "variants": variants}


def _glossary_with(items: list[dict[str, Any]]) -> Any:
    from audio_pipeline.glossary import Glossary

    if not items:
        return engines().glossary()
    return engines().glossary().merged(Glossary.from_data(items))


def _staff_items(site_id: int | None) -> list[dict[str, Any]]:
    return [{"forms": t.forms, "variants": t.variants} for t in staff_terms(site_id)]


def site_glossary(site_id: int, *, names: Mapping[str, str | None] | None = None) -> Any:
    """The town's glossary with the site's own names first: its name in every language it has
    a text in (so "Hội quán Phúc Kiến" comes out of translation as "Fujian Assembly Hall"),
    or as `names` gives it (a name being translated is left out, so that it is translated
    again); then the terms staff added in the console (the site's, then the town's), then
    the seed's."""
    site = db.session.get(Site, site_id)
    own = _name_term(site.texts if site else [], names or {})
    return _glossary_with([*([own] if own else []), *_staff_items(site_id)])


def tour_glossary(tour_id: int, *, names: Mapping[str, str | None] | None = None) -> Any:
    """As `site_glossary` for a tour: its own names, then each stop's site's names (so the
    text calls a stop as the stop's page does), then the town's terms staff added and the
    seed's."""
    tour = db.session.get(Tour, tour_id)
    items: list[dict[str, Any]] = []
    own = _name_term(tour.texts if tour else [], names or {})
    items += [own] if own else []
    for stop in tour.stops if tour else []:
        term = _name_term(stop.site.texts, {})
        items += [term] if term else []
    return _glossary_with(items + _staff_items(None))


def staff_terms(site_id: int | None) -> list[GlossaryTerm]:
    """Terms staff added for a site (first) and for the whole town."""
    rows = db.session.scalars(
        select(GlossaryTerm)
        .where((GlossaryTerm.site_id == site_id) | GlossaryTerm.site_id.is_(None))
        .order_by(GlossaryTerm.site_id.is_(None), GlossaryTerm.id)
    )
    return list(rows)


def seed_glossary() -> list[dict[str, Any]]:
    """The town's glossary as the seed file has it (forms and variants of each term)."""
    glossary = engines().glossary()
    return [
        {"forms": dict(term.forms), "variants": {k: list(v) for k, v in term.variants.items()}}
        for term in glossary.terms
    ]


# --- running a stage --------------------------------------------------------------------------


#: The work of job kinds with no narration, by kind: a site's catalogue texts here; other
#: domains add theirs (`register_job_kind`), run by the same workers and engines.
JOB_KINDS: dict[str, Callable[[PipelineTask, Progress], Outcome]] = {}


def register_job_kind(kind: str, run: Callable[[PipelineTask, Progress], Outcome]) -> None:
    """Let the workers run jobs of `kind` (each task through `run`, its outcome recorded as a
    narration's task's is)."""
    JOB_KINDS[kind] = run


def run_stage(task: PipelineTask, beat: Progress) -> Outcome:
    """Do the task's work; a StageError when the pipeline refused or could not do it."""
    from audio_pipeline.errors import ModelMissing, PipelineError

    job = task.job
    other_kind = JOB_KINDS.get(job.kind)
    narration = db.session.get(Narration, job.narration_id) if job.narration_id else None
    if narration is None and other_kind is None:
        raise StageError("narration_missing", "the job's narration was deleted")
    stage = TaskStage(task.stage)
    try:
        if other_kind is not None:
            return other_kind(task, beat)
        assert narration is not None
        if stage is TaskStage.SOURCE:
            return _source(task, narration, beat)
        if stage is TaskStage.TRANSLATE:
            return _translate(task, narration, beat)
        return _speech(task, narration, beat)
    except ModelMissing as exc:
        raise StageError(exc.reason, exc.message, model_missing=True) from exc
    except PipelineError as exc:
        raise StageError(exc.reason, exc.message, retryable=exc.retryable) from exc


def _source(task: PipelineTask, narration: Narration, beat: Progress) -> Outcome:
    """Check the text, or decode and transcribe the recording (its transcript is a draft)."""
    from audio_pipeline import steps
    from audio_pipeline.text import check_text

    eng = engines()
    if narration.source_kind == SourceKind.TEXT.value:
        check_text(narration.text, narration.source_lang, max_chars=eng.settings.max_text_chars)
        return Outcome("succeed", {"kind": SourceKind.TEXT.value, "chars": len(narration.text)})
    assert narration.recording_path
    beat.progress = 0.1
    _, transcript = steps.transcribe_recording(
        media_dir() / narration.recording_path,
        lang=narration.source_lang,
        transcriber=eng.transcriber(),
        glossary=site_glossary(narration.site_id),
        settings=eng.settings,
    )
    text = transcript.text
    result = {
        "kind": SourceKind.RECORDING.value,
        "transcript": text,
        "duration_s": transcript.duration_s,
        "speech_s": transcript.speech_s,
        "detected_lang": transcript.detected_lang,
        "detected_probability": transcript.detected_probability,
        "model_id": transcript.model_id,
        "segments": [[c.start, c.end, c.text] for c in transcript.segments],
    }

    def apply() -> None:
        row = db.session.get(Narration, narration.id)
        assert row is not None
        row.transcript_draft = text
        if not row.text:
            row.text = text

    return Outcome("succeed", result, apply)


def _translate(task: PipelineTask, narration: Narration, beat: Progress) -> Outcome:
    """Machine translation into the task's language, unless a person translated it."""
    from audio_pipeline import steps
    from audio_pipeline.text import join

    existing = narration.text_for(task.lang)
    if existing is not None and existing.provenance == Provenance.HUMAN.value:
        return Outcome("skip", {"provenance": Provenance.HUMAN.value})
    eng = engines()
    beat.progress = 0.1
    translation = steps.translate_text(
        text=narration.text,
        source=narration.source_lang,
        target=task.lang,
        translator=eng.translator(),
        glossary=site_glossary(narration.site_id),
        settings=eng.settings,
    )
    text = join(translation.structure, task.lang)
    if existing is not None and existing.text == text:
        return Outcome("skip", {"provenance": Provenance.MACHINE.value, "unchanged": True})

    def apply() -> None:
        row = db.session.get(Narration, narration.id)
        assert row is not None
        current = row.text_for(task.lang)
        if current is None:
            row.texts.append(
                NarrationText(lang=task.lang, text=text, provenance=Provenance.MACHINE.value)
            )
        elif current.provenance == Provenance.MACHINE.value:
            current.text, current.reviewed = text, False

    return Outcome("succeed", {"route": translation.route, "chars": len(text)}, apply)


def machine_translate(text: str, *, source: str, target: str, glossary: Any) -> str:
    """Text machine-translated by the translation stage's engine (Argos, sentence by sentence,
    the glossary's names kept); ModelMissing when no installed model goes there."""
    from audio_pipeline import steps
    from audio_pipeline.text import join

    eng = engines()
    translation = steps.translate_text(
        text=text,
        source=source,
        target=target,
        translator=eng.translator(),
        glossary=glossary,
        settings=eng.settings,
    )
    return str(join(translation.structure, target))


#: The longest name a site's or tour's text may have (their `name` columns).
NAME_MAX_CHARS = 200


def _catalogue_owner(job: PipelineJob) -> Site | Tour | None:
    if job.tour_id is not None:
        return db.session.get(Tour, job.tour_id)
    return db.session.get(Site, job.site_id) if job.site_id is not None else None


def _name_is_translated(owner: Site | Tour, source: SiteText | TourText) -> bool:
    """A tour's name says what the walk is: always translated. A site's name is a proper name
    unless people translated it (a person's text in another language names it otherwise:
    "Chùa Cầu" is the "Japanese Covered Bridge"); a name nobody translated is kept."""
    if isinstance(owner, Tour):
        return True
    return any(
        text.lang != source.lang
        and text.provenance == Provenance.HUMAN.value
        and text.name != source.name
        for text in owner.texts
    )


def _kept_name(owner: Site | Tour, source: SiteText | TourText) -> str:
    """The name shown when the machine's will not do: a person's English, else the source's."""
    english = owner.text_for("en")
    human = english is not None and english.provenance == Provenance.HUMAN.value
    return english.name if english is not None and human else source.name


def translate_catalogue(task: PipelineTask, beat: Progress) -> Outcome:
    """A site's or tour's name (where it is translated), summary and description,
    machine-translated from the source language into the task's, unless a person wrote that
    language's text (then, and at apply, a human wins)."""
    from audio_pipeline.errors import TextRejected

    owner = _catalogue_owner(task.job)
    source = owner.text_for(task.job.source_lang) if owner is not None else None
    if owner is None or source is None:
        raise StageError("text_missing", "the site or tour, or its source text, was deleted")
    existing = owner.text_for(task.lang)
    if existing is not None and existing.provenance == Provenance.HUMAN.value:
        return Outcome("skip", {"provenance": Provenance.HUMAN.value})
    glossary_of = tour_glossary if isinstance(owner, Tour) else site_glossary

    def translate(text: str, glossary: Any) -> str:
        return machine_translate(
            text, source=task.job.source_lang, target=task.lang, glossary=glossary
        )

    beat.progress = 0.05
    name = source.name
    if _name_is_translated(owner, source):
        # The name's own earlier translation is left out of the glossary: it is made again.
        with suppress(TextRejected):  # too plain to tell its language ("Hoi An"): kept
            name = translate(source.name, glossary_of(owner.id, names={task.lang: None}))
        if not name.strip() or len(name) > NAME_MAX_CHARS:
            name = _kept_name(owner, source)  # the model rambled: a name is a few words
    # The texts keep the name as it was just translated.
    glossary = glossary_of(owner.id, names={task.lang: name})
    translated: dict[str, str] = {"name": name}
    parts = [("summary", source.summary), ("description", source.description)]
    for index, (name_of, text) in enumerate(parts):
        beat.progress = 0.1 + 0.8 * index / len(parts)
        translated[name_of] = translate(text, glossary) if text.strip() else ""
    if existing is not None and all(getattr(existing, f) == t for f, t in translated.items()):
        return Outcome("skip", {"provenance": Provenance.MACHINE.value, "unchanged": True})
    owner_id, is_tour = owner.id, isinstance(owner, Tour)

    def apply() -> None:
        from content.cache import bump_catalogue_version
        from content.services import refresh_search_document

        row: Site | Tour | None = (
            db.session.get(Tour, owner_id) if is_tour else db.session.get(Site, owner_id)
        )
        assert row is not None
        current = row.text_for(task.lang)
        if current is not None and current.provenance == Provenance.HUMAN.value:
            return  # a person wrote it meanwhile
        if current is None:
            text_type = TourText if isinstance(row, Tour) else SiteText
            machine = {"provenance": Provenance.MACHINE.value, "reviewed": False}
            row.texts.append(text_type(lang=task.lang, **machine, **translated))
        else:
            for field_name, value in translated.items():
                setattr(current, field_name, value)
            current.reviewed = False
        row.updated_at = utcnow()  # the row's version moves: ETags, packs and /sync follow
        if isinstance(row, Site):
            refresh_search_document(row)
        bump_catalogue_version()

    chars = sum(len(text) for text in translated.values())
    return Outcome("succeed", {"fields": sorted(translated), "chars": chars}, apply)


@dataclass(frozen=True)
class _Speech:
    """What a speech task will make: its content key, whether its words are a machine
    translation, how to render its files into a folder, and whether the result is synthesized
    speech (heard back by Whisper before it may be published) or a person's recording."""

    key: str
    machine_translated: bool
    render: Callable[[Path], Track]
    synthesized: bool = True


def _speech(task: PipelineTask, narration: Narration, beat: Progress) -> Outcome:
    """Speak (or render the recording), place the files, and record the track at the commit."""
    job = task.job
    recording = narration.source_kind == SourceKind.RECORDING.value
    if recording and task.lang == narration.source_lang:
        plan = _recording_speech(task, narration, beat)
    else:
        plan = _voice_speech(task, narration)
    guide = db.session.scalar(
        db.select(Guide).where(Guide.site_id == job.site_id, Guide.lang == task.lang)
    )
    if guide is not None and guide.published_key == plan.key:
        return Outcome("skip", {"key": plan.key, "published": True})
    built = publishing.track_with_key(site_id=job.guide_site_id, lang=task.lang, key=plan.key)
    if built is not None:
        return _offer_again(job, task.lang, plan.key, built.id)
    beat.progress = 0.2

    def render(folder: Path) -> dict[str, Any]:
        track = plan.render(folder)
        manifest = track.manifest()
        manifest["machine_translated"] = plan.machine_translated
        manifest["transcript"] = track.transcript
        if plan.synthesized:
            beat.progress = 0.8
            manifest["hearing"] = _hear(track)
        return manifest

    staged = publishing.place_track(task_id=task.id, key=plan.key, render=render)
    beat.progress = 0.9

    def record() -> None:
        current = db.session.get(PipelineJob, job.id)
        assert current is not None
        publishing.record_track(job=current, staged=staged)

    return Outcome(
        "succeed",
        {
            "key": plan.key,
            "directory": staged.directory,
            "duration_s": staged.duration_s,
            "hearing": staged.hearing,
        },
        record,
    )


def _offer_again(job: PipelineJob, lang: str, key: str, track_id: int) -> Outcome:
    """A track with this key was built before (and not published): offer it for review."""

    def reoffer() -> None:
        row = publishing.track_with_key(site_id=job.guide_site_id, lang=lang, key=key)
        assert row is not None and row.id == track_id
        target = publishing.guide_row(job.guide_site_id, lang)
        publishing.offer_track(
            guide=target, track=row, auto_publish=job.auto_publish, narration_id=job.narration_id
        )

    return Outcome("skip", {"key": key, "track": track_id}, reoffer)


def _recording_speech(task: PipelineTask, narration: Narration, beat: Progress) -> _Speech:
    """The source language of a recording: the recording itself, with its transcript."""
    from audio_pipeline import audio, steps

    settings = engines().settings
    transcript = _source_transcript(task, narration)
    assert narration.recording_sha256 and narration.recording_path
    path = media_dir() / narration.recording_path
    recording_sha256 = narration.recording_sha256

    def render(folder: Path) -> Track:
        decoded, _ = audio.load_upload(path, settings)
        beat.progress = 0.4
        return steps.recording_track(
            recording=decoded,
            recording_sha256=recording_sha256,
            transcript=transcript,
            directory=folder,
            settings=settings,
        )

    key = steps.recording_track_key(
        recording_sha256=recording_sha256,
        transcript=transcript.text,
        lang=task.lang,
        settings=settings,
    )
    return _Speech(key=key, machine_translated=False, render=render, synthesized=False)


def _hear(track: Track) -> dict[str, Any]:
    """Whisper's round trip of a synthesized track: its error, bound and verdict."""
    from audio_pipeline import steps

    eng = engines()
    hearing = steps.hear_track(track, transcriber=eng.transcriber(), settings=eng.settings)
    return {**hearing.as_dict(), "reason": hearing.reason}


def _voice_speech(task: PipelineTask, narration: Narration) -> _Speech:
    """Any other language (or a text source): its text spoken by the best installed voice."""
    from audio_pipeline import steps
    from audio_pipeline.errors import PipelineError
    from audio_pipeline.text import check_text, join

    eng = engines()
    eng.release_translators()
    settings = eng.settings
    lang = task.lang
    is_source = lang == narration.source_lang
    row = None if is_source else narration.text_for(lang)
    if not is_source and row is None:
        raise PipelineError(f"no {lang} text to speak", reason="text_missing")
    text = narration.text if row is None else row.text
    voice = eng.voices().best(lang)
    structure = check_text(text, lang, max_chars=settings.max_text_chars)
    key = steps.speech_track_key(
        text=join(structure, lang), lang=lang, voice_id=voice.spec.id, settings=settings
    )

    def render(folder: Path) -> Track:
        return steps.speech_track(
            text=text, lang=lang, directory=folder, voices=eng.voices(), settings=settings
        )

    machine = row is not None and row.provenance == Provenance.MACHINE.value
    return _Speech(key=key, machine_translated=machine, render=render)


def _source_transcript(task: PipelineTask, narration: Narration) -> Any:
    """Whisper's transcript of the recording; when staff corrected its words, their text,
    timed over the speech Whisper heard."""
    from audio_pipeline.captions import Cue, retime
    from audio_pipeline.stt import Transcript
    from audio_pipeline.text import segment

    source = next(t for t in task.job.tasks if t.stage == TaskStage.SOURCE.value)
    data = source.result
    segments = [Cue(float(a), float(b), str(c)) for a, b, c in data["segments"]]
    heard = Transcript(
        lang=task.lang,
        detected_lang=data.get("detected_lang", task.lang),
        detected_probability=float(data.get("detected_probability", 1.0)),
        duration_s=float(data["duration_s"]),
        speech_s=float(data.get("speech_s", data["duration_s"])),
        segments=segments,
        corrections=[],
        model_id=str(data.get("model_id", "")),
    )
    corrected = (narration.text or "").strip()
    if not corrected or corrected == str(data.get("transcript", "")).strip():
        return heard
    sentences = [sentence for paragraph in segment(corrected) for sentence in paragraph]
    cues = retime(sentences, segments)
    return replace(heard, segments=cues) if cues else heard


# --- checks and helpers for staff pages -------------------------------------------------------


def check_recording(path: Path) -> None:
    """Decode a whole upload before it is kept, as the job's source stage will: a file that
    cannot be used is refused at once (ValidationFailed, `audio_rejected`, with the reason).
    Where the speech stack is not installed (a web-only install), the job's decode decides."""
    from app.errors import ValidationFailed

    try:
        from audio_pipeline import audio
        from audio_pipeline.errors import PipelineError
    except ImportError:
        return
    try:
        audio.load_upload(path, pipeline_settings())
    except PipelineError as exc:
        raise ValidationFailed(
            exc.message, reason="audio_rejected", errors={"audio": [exc.reason]}
        ) from exc


def sentences(text: str) -> list[list[str]]:
    """Paragraphs of sentences, split as translation and speech split them."""
    from audio_pipeline.text import segment

    return segment(text)


def language_models(
    languages: list[str], *, source: str, pivot: str = "en"
) -> list[dict[str, Any]]:
    """Per served language, the translation models and voices the pipeline knows: installed or
    not, licence, quality, and the command that installs each missing one."""
    from audio_pipeline.registry import ModelKind

    states = model_registry().states()

    def view(state: Any) -> dict[str, Any]:
        spec = state.spec
        return {
            **state.as_dict(),
            "quality": spec.quality,
            "description": spec.description,
            "command": None
            if state.installed
            # Refused unless the operator opts in to a non-commercial licence.
            else (
                ("HOIAN_ALLOW_NONCOMMERCIAL_MODELS=1 " if not spec.commercial_use else "")
                + f"flask models download {spec.id}"
            ),
        }

    def installed(pair: tuple[str, str]) -> bool:
        return any(
            s.installed and s.spec.kind is ModelKind.MT and tuple(s.spec.languages) == pair
            for s in states
        )

    rows = []
    for lang in languages:
        pairs = {(source, lang), (source, pivot), (pivot, lang)} if lang != source else set()
        translation = [
            view(s)
            for s in states
            if s.spec.kind is ModelKind.MT and tuple(s.spec.languages) in pairs
        ]
        voices = [
            view(s) for s in states if s.spec.kind is ModelKind.TTS and lang in s.spec.languages
        ]
        can_translate = (
            lang == source
            or installed((source, lang))
            or (installed((source, pivot)) and installed((pivot, lang)))
        )
        rows.append(
            {
                "lang": lang,
                "translation": translation,
                "voices": sorted(voices, key=lambda v: -int(v["quality"])),
                "translation_ready": can_translate,
                "voice_ready": any(v["installed"] for v in voices),
            }
        )
    return rows


register_job_kind(CATALOGUE_JOB, translate_catalogue)
