"""VITS model: alignment search against brute force, shapes, ONNX parity, voice runtime behaviour."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from models.tts.text import TextError
from models.tts.vits import Vits, size_config
from models.tts.vits.alignment import generate_path, maximum_path
from models.tts.vits.spline import rational_quadratic
from models.tts.voice import SynthesisSettings, Voice, VoiceError, pieces
from tests.conftest import TINY_VITS

TINY = TINY_VITS


def _brute_force(value: np.ndarray) -> np.ndarray:
    """Best monotonic path by enumerating every path (tiny matrices only)."""
    t_y, t_x = value.shape
    best, best_path = -np.inf, None
    for steps in itertools.combinations(range(1, t_y), t_x - 1):  # frames where the next character starts
        xs, x = [], 0
        for y in range(t_y):
            if y in steps:
                x += 1
            xs.append(x)
        score = sum(value[y, xs[y]] for y in range(t_y))
        if score > best:
            best, best_path = score, xs
    path = np.zeros_like(value)
    path[np.arange(t_y), best_path] = 1
    return path


@pytest.mark.parametrize(("t_y", "t_x"), [(1, 1), (4, 1), (5, 3), (7, 4), (8, 8), (9, 5)])
def test_maximum_path_matches_brute_force(t_y: int, t_x: int) -> None:
    rng = np.random.default_rng(t_y * 10 + t_x)
    value = rng.normal(size=(t_y, t_x))
    got = maximum_path(torch.from_numpy(value)[None], torch.ones(1, t_y, t_x))[0].numpy()
    np.testing.assert_array_equal(got, _brute_force(value))


def test_maximum_path_respects_padding_per_item() -> None:
    rng = np.random.default_rng(0)
    value = torch.from_numpy(rng.normal(size=(2, 9, 5)))
    mask = torch.zeros(2, 9, 5)
    mask[0] = 1
    mask[1, :6, :3] = 1
    got = maximum_path(value, mask).numpy()
    np.testing.assert_array_equal(got[1, :6, :3], _brute_force(value[1, :6, :3].numpy()))
    assert got[1].sum() == 6 and got[0].sum() == 9


def test_generate_path_expands_durations() -> None:
    path = generate_path(torch.tensor([[[2.0, 1.0, 3.0]]]), torch.ones(1, 1, 6, 3))[0, 0]
    assert path.argmax(1).tolist() == [0, 0, 1, 2, 2, 2]


def test_spline_inverse_undoes_forward() -> None:
    torch.manual_seed(0)
    x = torch.linspace(-6, 6, 50, dtype=torch.float64)
    w, h, d = (torch.randn(50, n, dtype=torch.float64) for n in (10, 10, 9))
    y, ld = rational_quadratic(x, w, h, d, inverse=False, tail_bound=5.0)
    back, ld_inv = rational_quadratic(y, w, h, d, inverse=True, tail_bound=5.0)
    torch.testing.assert_close(back, x, atol=1e-8, rtol=0)
    torch.testing.assert_close(ld, -ld_inv, atol=1e-8, rtol=0)
    assert torch.equal(y[x.abs() > 5], x[x.abs() > 5])  # identity outside the bound


def test_forward_and_infer_shapes() -> None:
    torch.manual_seed(0)
    cfg = size_config("small", **TINY)
    model = Vits(cfg)
    ids, lens = torch.randint(1, cfg.n_vocab, (2, 12)), torch.tensor([12, 7])
    spec, frames = torch.rand(2, cfg.spec_channels, 30), torch.tensor([30, 20])
    out = model(ids, lens, spec, frames, segment_frames=8)
    assert out["audio"].shape == (2, 1, 8 * cfg.hop)
    assert out["attn"].sum((2, 3)).squeeze(1).tolist() == [30.0, 20.0]  # every frame aligned once
    assert torch.isfinite(out["l_dur"])
    model.eval()
    with torch.no_grad():
        audio = model.infer(ids[:1], lens[:1], length_scale=2.0)
    assert audio.shape[-1] % cfg.hop == 0 and audio.abs().max() <= 1


def test_sizes_match_their_references() -> None:
    def inference_params(name: str) -> int:
        return sum(p.numel() for k, p in Vits(size_config(name)).named_parameters() if not k.startswith("enc_q"))

    assert 28e6 < inference_params("paper") < 30e6  # Coqui/MMS VITS: 36 M with the posterior encoder
    assert inference_params("small") < 5e6


def test_onnx_matches_torch(tts_voice: tuple[Vits, Path]) -> None:
    from models.tts.vits.export import max_difference

    model, path = tts_voice
    for text in ("আমি।", "আজ সকালে খুব সুন্দর রোদ উঠেছে, চলো হাঁটতে যাই।"):
        assert max_difference(model, path, text) <= 1e-4
    desc = json.loads(path.with_name(path.name + ".json").read_text())
    assert desc["audio"]["sample_rate"] == 22050 and desc["symbols"][0] == "_"


def test_streaming_equals_whole_text(tts_voice: tuple[Vits, Path]) -> None:
    voice = Voice.load(tts_voice[1])
    s = SynthesisSettings(noise_scale=0.0, length_scale=1.0, noise_w=0.0)
    text = "প্রথম বাক্য। দ্বিতীয় বাক্য? তৃতীয়!"
    chunks = list(voice.synthesize(text, s))
    assert len(chunks) == 3
    np.testing.assert_array_equal(np.concatenate(chunks), voice.synthesize_all(text, s))
    for sentence, chunk in zip(voice.frontend.sentences(text), chunks, strict=True):
        alone = voice.synthesize_all(sentence, s)
        np.testing.assert_allclose(chunk, alone, atol=1e-6)


def test_speed_control_changes_length(tts_voice: tuple[Vits, Path]) -> None:
    voice = Voice.load(tts_voice[1])
    fast = voice.synthesize_all("আমি ভালো আছি।", voice.settings(length_scale=0.5, noise_w=0.0, sentence_silence_s=0))
    slow = voice.synthesize_all("আমি ভালো আছি।", voice.settings(length_scale=2.0, noise_w=0.0, sentence_silence_s=0))
    assert len(slow) > 2 * len(fast) * 0.9


def test_empty_unspeakable_and_long_text(tts_voice: tuple[Vits, Path]) -> None:
    voice = Voice.load(tts_voice[1])
    assert list(voice.synthesize("")) == [] and list(voice.synthesize("Hello, world! ...")) == []
    long_text = "আমি " * 3000  # 12,000 characters, no sentence end
    chunks = list(voice.synthesize(long_text, voice.settings(noise_w=0.0)))
    assert len(chunks) == len(pieces(voice.frontend.normalize(long_text)))
    with pytest.raises(TextError):
        list(voice.synthesize("ক" * 200_001))


def test_pieces_cut_at_spaces() -> None:
    assert pieces("ab cd ef", 5) == ["ab cd", "ef"]
    assert pieces("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_bad_voice_files(tts_voice: tuple[Vits, Path], tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="not found|missing"):
        Voice.load(tmp_path / "none.onnx")
    onnx = tmp_path / "v.onnx"
    shutil.copy(tts_voice[1], onnx)
    with pytest.raises(VoiceError, match="json"):
        Voice.load(onnx)
    (tmp_path / "v.onnx.json").write_text("{not json")
    with pytest.raises(VoiceError, match="not a voice description"):
        Voice.load(onnx)
    shutil.copy(tts_voice[1].with_name("tiny.onnx.json"), tmp_path / "v.onnx.json")
    onnx.write_bytes(b"garbage")
    with pytest.raises(VoiceError, match="not a readable ONNX"):
        Voice.load(onnx)


def test_shipped_demo_voice_matches_its_card_and_is_understood() -> None:
    """The shipped voice: its card names the command, steps and measured metrics of exactly this file, it is
    under 40 MB, and the shipped ASR understands a held-out sentence it speaks far better than chance."""
    import hashlib
    import json

    from audio_io.resample import resample
    from models.asr.metrics import error_rate
    from models.asr.paraformer import SHIPPED_MODEL, ParaformerRecognizer
    from models.asr.tokens import normalize_transcript
    from models.tts.voice import SHIPPED_VOICE, Voice

    card = json.loads(SHIPPED_VOICE.with_name("tts_bn_small.card.json").read_text(encoding="utf-8"))
    assert card["training"]["command"].startswith("python -m training.tts")
    assert SHIPPED_VOICE.stat().st_size < 40e6
    # the card describes exactly this file
    assert hashlib.sha256(SHIPPED_VOICE.read_bytes()).hexdigest() == card["sha256"][SHIPPED_VOICE.name]
    assert card["metrics"]["float"]["utterances"] == 49 and 0 < card["metrics"]["float"]["mcd_db"] < 10

    voice = Voice.load(None)
    assert voice.path == SHIPPED_VOICE
    text = "আপনার বাড়ি কোথায়?"
    audio = voice.synthesize_all(text, voice.settings(noise_scale=0.0, noise_w=0.0))
    assert 0.6 < audio.shape[0] / voice.sample_rate < 3.0  # a short question, not silence or babble
    heard = ParaformerRecognizer(SHIPPED_MODEL).transcribe(
        np.concatenate([np.zeros(4000, np.float32), resample(audio, voice.sample_rate, 16000),
                        np.zeros(8000, np.float32)]))
    assert error_rate([(normalize_transcript(text), heard)], "bn") < 0.7  # 0.5 here; chance is about 1


def test_seed_makes_sampled_speech_repeatable(tts_voice: tuple[Vits, Path], tmp_path: Path) -> None:
    from models.onnx_model import seeded_model_bytes

    assert seeded_model_bytes(tts_voice[1], 0)[1] == 2  # the prior's and the duration predictor's noise
    text = "আজ সকালে খুব সুন্দর রোদ উঠেছে।"

    def two_calls(seed: int) -> list[np.ndarray]:
        voice = Voice.load(tts_voice[1], seed=seed)
        return [voice.synthesize_all(text, voice.settings(noise_scale=1.0, noise_w=1.0)) for _ in range(2)]

    first, again, other = two_calls(3), two_calls(3), two_calls(4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)  # same seed, same calls: same audio
    assert first[0].shape != first[1].shape or not np.allclose(first[0], first[1])  # the noise is still drawn
    assert first[0].shape != other[0].shape or not np.allclose(first[0], other[0])
    onnx = tmp_path / "v.onnx"
    onnx.write_bytes(b"garbage")
    shutil.copy(tts_voice[1].with_name("tiny.onnx.json"), tmp_path / "v.onnx.json")
    with pytest.raises(VoiceError, match="not a readable ONNX"):
        Voice.load(onnx, seed=0)
