"""Offline speech pipeline: narration to audio guides (see issue #3). Imports no Flask."""
