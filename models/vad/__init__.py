"""Semantic VAD: per 20 ms frame, the probability of speech and of the end of the user's turn.

``features`` (log-mel of the shared STFT) → ``net`` (streaming DFSMN, torch, for training and
export) → ``runtime`` (onnxruntime, one frame at a time) → ``endpointer`` (speech start/end, end of
turn, barge-in).
"""
