# The two commands a newcomer needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
VENV ?= $(HOME)/.cache/hoian/venv-$(REQ_HASH)
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Debian packages: zbarimg decodes our QR codes in tests, wrk drives the benchmarks; ffmpeg
# decodes uploads and encodes guide audio, espeak-ng speaks every language (Vietnamese included);
# chromium runs the tourist-page browser tests; DejaVu and Noto CJK give the plaque PDFs their
# Vietnamese, Korean, Chinese and Japanese glyphs.
APT_PACKAGES := zbar-tools wrk ffmpeg espeak-ng chromium fonts-dejavu-core fonts-noto-cjk
# The speech pipeline's virtualenv: the web stack plus torch, Whisper, Argos, Coqui and Piper
# (about 8.6 GB, installed once per requirements hash and reused, like the web one).
SPEECH_HASH := $(shell cat requirements.txt requirements-dev.txt requirements-speech.txt | sha256sum | cut -c1-12)
SPEECH_VENV ?= $(HOME)/.cache/hoian/speech-$(SPEECH_HASH)
export FLASK_APP := wsgi:app

.PHONY: help venv speech-venv system-deps run serve db guides flask test lint format bench docker clean messages

help:
	@echo "make run    install, migrate, load the Hội An catalogue, serve on http://$(HOST):$(PORT)"
	@echo "make test   install test needs and run the test suite"
	@echo "make lint   ruff and mypy;  make bench  performance benchmarks"

# One virtualenv per requirements hash, kept outside the clone so CI and new clones reuse it.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@
	@# Older web venvs are left behind when the requirements change.
	find $(dir $(VENV)) -maxdepth 1 -name 'venv-*' ! -name '$(notdir $(VENV))' -exec rm -rf {} +

venv: $(VENV)/.installed

$(SPEECH_VENV)/.installed: requirements.txt requirements-dev.txt requirements-speech.txt
	@test -x $(SPEECH_VENV)/bin/python || $(PYTHON) -m venv $(SPEECH_VENV)
	$(SPEECH_VENV)/bin/pip install --quiet --upgrade pip
	$(SPEECH_VENV)/bin/pip install --quiet -r requirements-speech.txt
	touch $@
	@# Older speech venvs (8.8 GB each) are left behind when the requirements change.
	find $(dir $(SPEECH_VENV)) -maxdepth 1 -name 'speech-*' ! -name '$(notdir $(SPEECH_VENV))' \
	  -exec rm -rf {} +

speech-venv: $(SPEECH_VENV)/.installed system-deps

# Installs APT_PACKAGES that are missing (as root with apt-get; otherwise says what to install).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install:$$missing (Debian packages)"; exit 1; fi; \
	fi

db: venv
	$(BIN)/flask db upgrade
	$(BIN)/flask content load
	$(BIN)/flask tickets setup

# The seeded sites' guides, built by the speech venv: Vietnamese, English from the seed's human
# translation, and every other configured language `pending` until its translation model is
# installed. A re-run redoes only what changed (content keys).
guides: db speech-venv
	$(SPEECH_VENV)/bin/flask guide build --all --publish

# The web process runs in the web venv and never imports the speech stack; narrations uploaded
# while it runs are processed by child processes of the speech venv's interpreter.
run: guides
	HOIAN_SPEECH_PYTHON=$(SPEECH_VENV)/bin/python \
	  $(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

# The suite runs in the speech venv (a superset of the web one), so the pipeline's tests run
# against the real models; a test holds the web process to importing none of it.
test: speech-venv system-deps
	$(SPEECH_VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Any flask command in the web venv, e.g. make flask ARGS="users create --email a@b.vn --role editor"
flask: venv
	$(BIN)/flask $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The staff front-ends' words: every _(), ngettext() and N_() that no Vietnamese catalogue of
# the front-end has yet is added, untranslated, to its messages.po; a test fails until each is
# translated.
CATALOGUES := web/console web/scan
messages: venv
	$(BIN)/python scripts/messages.py $(CATALOGUES)

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv system-deps
	$(BIN)/python benchmarks/catalogue.py

docker:
	docker build -t hoian-guide .

clean:
	rm -rf instance .pytest_cache .mypy_cache .ruff_cache
