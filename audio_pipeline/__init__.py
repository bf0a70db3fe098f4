"""Offline speech pipeline: narration to audio guides (see issue #3). Imports no Flask.

Engines load lazily inside their modules (`stt`, `mt`, `tts`), so importing this package, its
registry or its errors costs nothing: the web process may read model state without ever
loading torch, CTranslate2 or Argos Translate.
"""
