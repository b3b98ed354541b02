"""Streaming ASR: FunASR's Paraformer in streaming mode, loaded from a local model folder.

``tokens`` (normalised transcripts, one token per code point) → ``paraformer`` (recogniser per model
folder, stream per utterance: partial text per 600 ms chunk, final text at the end) → ``metrics``
(CER for Bangla, WER for English).
"""
