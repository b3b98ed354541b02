"""Streaming ASR: FunASR's Paraformer in streaming mode, loaded from a local model folder.

``tokens`` (normalised transcripts, one token per code point) → ``paraformer`` (recogniser per model
folder, stream per utterance: partial text per chunk of 10 feature vectors, final text at the end) → ``metrics``
(CER for Bangla, WER for English).
"""
