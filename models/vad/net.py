"""The semantic VAD network: a small streaming DFSMN (torch; training and ONNX export).

Input (batch, frames, 40) log-mel features (:mod:`models.vad.features`) of the echo chain's VAD
output, and for an **echo-aware** model (``echo_input=True``) 40 more of the chain's echo estimate ŷ for
the same frame (batch, frames, 80): seeing what the agent's own voice sounds like at the microphone,
the model can tell residual echo from the user; a **LAEC-aware** model (``laec_input=True``) 40 more of the linear
canceller's output e = mic − ŷ, before the residual echo masks, which hold the user's first syllables back
while the agent talks (batch, frames, 120); a **prosody-aware** model (``pitch_input=True``) also reads 3
pitch features of the output (:mod:`models.vad.pitch`: voicing and the F0 contour, the intonation that tells a
finished sentence from a clause that goes on), last: (batch, frames, 43, 83 or 123). The groups, in this order:
:data:`INPUT_GROUPS`. Features are normalised by fixed mean/std buffers; an input layer (40 … 123) → 64; 6 DFSMN layers (hidden 128, projection 64, 10 memory
taps with strides 1, 1, 2, 2, 4, 4 frames: a causal receptive field of 2.8 s, no look-ahead);
an output layer 64 → 2 giving the logits of [speech, end of turn] per 20 ms frame. About 108 k
parameters (110 k echo-aware). Streaming keeps the last 36 projections per layer: state (batch, 6, 36, 64).

**End-of-turn branch** (``eot_layers`` k > 0): k more DFSMN layers (strides :data:`EOT_STRIDES`) read the trunk's
output and a layer ``eot_output`` (64 → 1) adds a correction to the end-of-turn logit: end of turn =
output₁(m) + eot_output(branch(m)); the speech logit is the trunk's alone. ``eot_output`` starts at zero, so a
branch added to a trained model starts from that model's exact probabilities, and training the branch alone
(``freeze_trunk``) improves the end of turn without moving the speech probability by a single bit. State (batch,
6 + k, 36, 64): the branch's layers after the trunk's.
"""

from __future__ import annotations

import torch
from torch import nn

from models.dfsmn import DfsmnLayer
from models.vad.features import FEATURES, POWER_FLOOR
from models.vad.pitch import PITCH_FEATURES

DIM = 64
HIDDEN = 128
MEMORY = 10
STRIDES = (1, 1, 2, 2, 4, 4)
EOT_STRIDES = (2, 4, 4, 4)  # the end-of-turn branch's layers, in order (at most 4)
OUTPUTS = ("speech", "end_of_turn")
# The model's input groups in their order: (name, width, log-power feature that a level change moves).
INPUT_GROUPS = (("features", FEATURES, True), ("echo", FEATURES, True), ("laec", FEATURES, True),
                ("pitch", PITCH_FEATURES, False))


def input_groups(echo: bool, laec: bool, pitch: bool) -> list[tuple[str, int, bool]]:
    """The groups a model with these inputs reads, in order (``features`` always)."""
    wanted = {"features": True, "echo": echo, "laec": laec, "pitch": pitch}
    return [g for g in INPUT_GROUPS if wanted[g[0]]]


def add_eot_correction(logits: torch.Tensor, correction: torch.Tensor) -> torch.Tensor:
    """Logits (..., 2) [speech, end of turn] with ``correction`` (..., 1) added to the end of turn's."""
    return torch.cat([logits[..., :1], logits[..., 1:] + correction], dim=-1)


class VadDfsmn(nn.Module):
    """See the module doc. ``forward`` returns logits (B, T, 2)."""

    def __init__(self, echo_input: bool = False, pitch_input: bool = False, laec_input: bool = False,
                 eot_layers: int = 0) -> None:
        super().__init__()
        if not 0 <= eot_layers <= len(EOT_STRIDES):
            raise ValueError(f"eot_layers must be 0 to {len(EOT_STRIDES)}, not {eot_layers}")
        self.echo_input = echo_input
        self.pitch_input = pitch_input
        self.laec_input = laec_input
        self.power_floor = POWER_FLOOR  # the feature floor it is trained for (models.vad.power_floor; not a weight)
        self.groups = input_groups(echo_input, laec_input, pitch_input)
        # the log-power inputs come first (a level change moves them)
        self.level_features = sum(width for _, width, level in self.groups if level)
        self.in_features = sum(width for _, width, _ in self.groups)
        self.register_buffer("feature_mean", torch.zeros(self.in_features))
        self.register_buffer("feature_std", torch.ones(self.in_features))
        self.input = nn.Linear(self.in_features, DIM)
        self.layers = nn.ModuleList(DfsmnLayer(DIM, HIDDEN, MEMORY, s) for s in STRIDES)
        self.output = nn.Linear(DIM, len(OUTPUTS))
        self.eot_layers = nn.ModuleList(DfsmnLayer(DIM, HIDDEN, MEMORY, s) for s in EOT_STRIDES[:eot_layers])
        self.eot_output = nn.Linear(DIM, 1) if eot_layers else None
        if self.eot_output is not None:
            nn.init.zeros_(self.eot_output.weight)
            nn.init.zeros_(self.eot_output.bias)

    def branch_parameters(self) -> list[nn.Parameter]:
        """The end-of-turn branch's weights (what ``freeze_trunk`` trains; empty without a branch)."""
        return [*self.eot_layers.parameters(), *(self.eot_output.parameters() if self.eot_output is not None else ())]

    @property
    def state_shape(self) -> tuple[int, int, int]:
        layers = [*self.layers, *self.eot_layers]
        return (len(layers), max(layer.past_frames for layer in layers), DIM)

    def init_state(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, *self.state_shape)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.feature_mean) / self.feature_std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.input(self._normalise(x))
        for layer in self.layers:
            m = layer(m)
        logits = self.output(m)
        for layer in self.eot_layers:
            m = layer(m)
        return self.with_branch(logits, m)

    def with_branch(self, logits: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
        """The trunk's logits (..., 2) with the end-of-turn branch's correction added (none without a branch);
        ``branch``: the branch's output (..., 64)."""
        return logits if self.eot_output is None else add_eot_correction(logits, self.eot_output(branch))

    def streaming_forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame: x (B, in_features), state (B, 6 + k, 36, 64) -> (probabilities (B, 2), new state)."""
        m = self.input(self._normalise(x))
        new = []
        for i, layer in enumerate(self.layers):
            m, past = layer.step(m, state[:, i])
            new.append(past)
        logits = self.output(m)
        for i, layer in enumerate(self.eot_layers):
            m, past = layer.step(m, state[:, len(self.layers) + i])
            new.append(past)
        return torch.sigmoid(self.with_branch(logits, m)), torch.stack(new, dim=1)
