"""Voices people already have: Piper, Coqui TTS and MMS-TTS, each checked against its own reference library.

Nothing is downloaded: every reference voice is built here with random weights by the reference
library itself (piper-tts, Coqui TTS, transformers), run on the same input with the same noise, and
compared with what this project's runtime makes of the same files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from models.tts.text import TextFrontEnd
from models.tts.vits import Vits, size_config
from models.tts.voice import SynthesisSettings, Voice, VoiceError, detect_format, parse_voice_spec
from models.tts.voices.espeak_phonemes import phonemize
from models.tts.voices.references import build_coqui, build_mms, build_piper
from models.tts.voices.tokens import CharTokenizer
from tests.conftest import TINY_VITS

TEXT = "আমি আজ বাজারে যাব, তারপর বাড়ি ফিরব। তুমি কেমন আছ?"
QUIET = SynthesisSettings(noise_scale=0.0, length_scale=1.0, noise_w=0.0, sentence_silence_s=0.0)
PARITY = 1e-4


# --- Piper --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def piper_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Piper voice (espeak phonemes, Piper's default id map) with random weights, in Piper's files."""
    return build_piper(tmp_path_factory.mktemp("piper") / "bn_BD-test-medium.onnx")


def test_phonemes_match_pipers_espeak_bridge() -> None:
    from piper.phonemize_espeak import EspeakPhonemizer

    ref = EspeakPhonemizer()
    for text in (TEXT, "আমি যাব: তুমি থাকো; সে আসবে! ঠিক আছে.", "hello world, আমি"):
        assert phonemize(text, "bn") == [p for s in ref.phonemize("bn", text) for p in s]


def test_piper_voice_matches_piper(piper_voice: Path) -> None:
    from piper import PiperVoice, SynthesisConfig

    ours = Voice.load(piper_voice)
    assert ours.kind == "piper" and detect_format(piper_voice) == "piper"
    ref = PiperVoice.load(piper_voice, piper_voice.with_name(piper_voice.name + ".json"))
    sentences = ours.frontend.sentences(TEXT)
    ref_phonemes = ref.phonemize(TEXT)
    assert len(sentences) == len(ref_phonemes) == 2
    for sentence, phonemes in zip(sentences, ref_phonemes, strict=True):
        ids = ours.frontend.ids(sentence)
        assert ids == ref.phonemes_to_ids(phonemes)
        want = ref.phoneme_ids_to_audio(ids, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0))
        got = ours.synthesize_ids(ids, QUIET)
        assert got.shape == want.shape and np.max(np.abs(got - want)) <= PARITY


def test_project_voice_round_trips_through_piper(tts_voice: tuple[Vits, Path]) -> None:
    """The project's export is also a Piper voice: Piper's own runtime and this project's Piper path give the
    project's ids and audio (for text that NFD leaves alone: Piper decomposes ো ৌ ড় ঢ় য়)."""
    from piper import PiperVoice, SynthesisConfig

    path = tts_voice[1]
    text = "আমি আজ বাজারে যাব, তুমি কি আসবে?"
    own, as_piper = Voice.load(path), Voice.load(f"piper:{path}")
    assert (own.kind, as_piper.kind) == ("project", "piper")
    ref = PiperVoice.load(path, path.with_name(path.name + ".json"))
    sentence = own.frontend.sentences(text)[0]
    ids = own.frontend.ids(sentence)
    assert as_piper.frontend.ids(sentence) == ids == ref.phonemes_to_ids(ref.phonemize(sentence)[0])
    want = ref.phoneme_ids_to_audio(ids, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0))
    np.testing.assert_allclose(as_piper.synthesize_all(text, QUIET), want, atol=PARITY)
    np.testing.assert_allclose(own.synthesize_all(text, QUIET), want, atol=PARITY)


def test_piper_multi_speaker_and_bad_fields(piper_voice: Path, tmp_path: Path) -> None:
    good = json.loads(piper_voice.with_name(piper_voice.name + ".json").read_text(encoding="utf-8"))
    onnx = tmp_path / "v.onnx"
    shutil.copy(piper_voice, onnx)

    def load_with(cfg: dict) -> Voice:
        (tmp_path / "v.onnx.json").write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
        return Voice.load(f"piper:{onnx}")

    for broken, field in ((lambda c: c.pop("phoneme_id_map"), "phoneme_id_map"),
                          (lambda c: c["audio"].pop("sample_rate"), "audio.sample_rate"),
                          (lambda c: c.pop("espeak"), "espeak.voice"),
                          (lambda c: c["phoneme_id_map"].pop("^"), "phoneme_id_map"),
                          (lambda c: c.update(phoneme_type="pinyin"), "phoneme_type"),
                          (lambda c: c["audio"].update(sample_rate="fast"), "audio.sample_rate")):
        cfg = json.loads(json.dumps(good))
        broken(cfg)
        with pytest.raises(VoiceError, match=field.replace(".", r"\.")):
            load_with(cfg)
    with pytest.raises(VoiceError, match="espeak-ng has no voice"):
        load_with(good | {"espeak": {"voice": "no-such-voice"}})
    # A multi-speaker voice needs an ONNX with a ``sid`` input: this one has none, and says so.
    with pytest.raises(VoiceError, match="sid"):
        load_with(good | {"num_speakers": 2, "speaker_id_map": {"a": 0, "b": 1}})
    load_with(good)
    with pytest.raises(VoiceError, match="single-speaker"):
        Voice.load(f"piper:{onnx}", speaker=3)


def test_piper_multi_speaker_voice_feeds_the_chosen_speaker(tmp_path: Path) -> None:
    """A multi-speaker Piper ONNX takes ``sid``: the speaker is chosen by name or id, the default from the JSON."""
    from models.onnx_export import export_step

    class TwoSpeakers(torch.nn.Module):  # speaker 1 speaks at half the amplitude of speaker 0
        def __init__(self, vits: Vits) -> None:
            super().__init__()
            self.vits = vits

        def forward(self, ids, lengths, scales, sid):  # noqa: ANN001, ANN202
            return self.vits.infer(ids, lengths, scales[0], scales[1], scales[2]) * (1.0 - 0.5 * sid.float())

    piper = build_piper(tmp_path / "one.onnx")
    cfg = json.loads(piper.with_name("one.onnx.json").read_text(encoding="utf-8"))
    torch.manual_seed(3)
    vits = Vits(size_config("small", **TINY_VITS, n_vocab=cfg["num_symbols"])).eval()
    out = tmp_path / "two.onnx"
    ids = torch.tensor([[1, 0, 20, 0, 2]])
    export_step(TwoSpeakers(vits), (ids, torch.tensor([5]), torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0])),
                ["input", "input_lengths", "scales", "sid"], ["output"], out, {},
                dynamic_axes={"input": {1: "symbols"}, "output": {2: "samples"}})
    cfg |= {"num_speakers": 2, "speaker_id_map": {"rahim": 0, "karim": 1}, "default_speaker_id": 1}
    out.with_name("two.onnx.json").write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    loud, default, by_id = Voice.load(out, speaker="rahim"), Voice.load(out), Voice.load(out, speaker="0")
    assert (loud.speaker_id, default.speaker_id, by_id.speaker_id) == (0, 1, 0)
    a, b = loud.synthesize_all("আমি আজ যাব।", QUIET), default.synthesize_all("আমি আজ যাব।", QUIET)
    assert a.size == b.size > 0 and np.allclose(np.clip(a, -1, 1) * 0.5, b, atol=1e-4) and np.abs(a).max() > 0
    for bad in ("nobody", 7):
        with pytest.raises(VoiceError, match="speaker"):
            Voice.load(out, speaker=bad)


# --- MMS-TTS (transformers) --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mms_folder(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 (folder, transformers model, tokenizer)
    from transformers import VitsModel, VitsTokenizer

    folder = build_mms(tmp_path_factory.mktemp("mms") / "mms-tts-test")
    return folder, VitsModel.from_pretrained(folder).eval(), VitsTokenizer.from_pretrained(folder)


def test_mms_loads_into_project_vits_with_the_same_audio(mms_folder, tmp_path: Path) -> None:  # noqa: ANN001
    from models.tts.voices import mms

    folder, ref_model, ref_tok = mms_folder
    model, tokens, settings = mms.load(folder)
    assert settings.noise_scale == pytest.approx(0.667) and settings.noise_w == pytest.approx(0.8)
    ours = CharTokenizer(tokens)
    for sentence in ours.sentences(TEXT):
        ids = ours.ids(sentence)
        ref_ids = ref_tok(sentence, return_tensors="pt")["input_ids"]
        assert ids == ref_ids[0].tolist()
        for noise, seed in ((0.0, 0), (1.0, 5)):
            ref_model.noise_scale, ref_model.noise_scale_duration = 0.667 * noise, 0.8 * noise
            torch.manual_seed(seed)
            with torch.no_grad():
                want = ref_model(ref_ids).waveform.reshape(-1).numpy()
            torch.manual_seed(seed)
            with torch.no_grad():
                got = model.infer(torch.tensor([ids]), torch.tensor([len(ids)]), 0.667 * noise, 1.0,
                                  0.8 * noise).reshape(-1).numpy()
            assert got.shape == want.shape and np.max(np.abs(got - want)) <= PARITY


def test_mms_voice_converts_once_and_is_cached(mms_folder, tmp_path: Path,  # noqa: ANN001
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = mms_folder[0]
    monkeypatch.setenv("DUPLEX_AGENT_CACHE", str(tmp_path))
    assert detect_format(folder) == "mms"
    voice = Voice.load(folder)
    cached = list((tmp_path / "voices").glob("mms-*/voice.onnx"))
    assert len(cached) == 1 and voice.path == cached[0] and voice.sample_rate == 16000
    stamp = cached[0].stat().st_mtime_ns
    again = Voice.load(f"mms:{folder}")
    assert again.path == cached[0] and cached[0].stat().st_mtime_ns == stamp  # not converted again
    audio = voice.synthesize_all(TEXT, QUIET)
    assert 0.2 * 16000 < audio.size < 30 * 16000 and np.all(np.isfinite(audio))
    # the converted ONNX gives the torch model's audio
    from models.tts.voices import mms

    model = mms.load(folder)[0]
    ids = voice.frontend.ids(voice.frontend.sentences(TEXT)[0])
    with torch.no_grad():
        want = model.infer(torch.tensor([ids]), torch.tensor([len(ids)]), 0.0, 1.0, 0.0).reshape(-1).numpy()
    np.testing.assert_allclose(voice.synthesize_ids(ids, QUIET), np.clip(want, -1, 1), atol=PARITY)


def test_mms_bad_folders_name_the_problem(mms_folder, tmp_path: Path) -> None:  # noqa: ANN001
    from models.tts.voices import mms

    src = mms_folder[0]

    def broken(edit: str, change) -> Path:  # noqa: ANN001
        d = tmp_path / f"v{len(list(tmp_path.iterdir()))}"
        shutil.copytree(src, d)
        data = json.loads((d / edit).read_text(encoding="utf-8"))
        change(data)
        (d / edit).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return d

    cases = [
        (broken("config.json", lambda c: c.update(num_speakers=4)), "num_speakers"),
        (broken("config.json", lambda c: c.update(model_type="bert")), "model_type"),
        (broken("config.json", lambda c: c.update(window_size=8)), "window_size"),
        (broken("config.json", lambda c: c.update(hidden_size=64)), "shape"),
        (broken("tokenizer_config.json", lambda c: c.update(is_uroman=True)), "is_uroman"),
        (broken("vocab.json", lambda c: c.update(extra="x")), "integer"),
    ]
    for folder, message in cases:
        with pytest.raises(VoiceError, match=message):
            mms.load(folder)
    gone = tmp_path / "noweights"
    shutil.copytree(src, gone)
    (gone / "model.safetensors").unlink()
    with pytest.raises(VoiceError, match="no weights"):
        mms.load(gone)
    (gone / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(VoiceError, match="safetensors"):
        mms.load(gone)


# --- Coqui TTS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coqui_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Coqui's own Vits with random weights, saved as a voice folder, and its output for the first sentence."""
    out = tmp_path_factory.mktemp("coqui")
    build_coqui(out, "tiny", TextFrontEnd().sentences(TEXT)[0])
    return out


def test_coqui_loads_into_project_vits_with_the_same_audio(coqui_reference: Path) -> None:
    from models.tts.voices import coqui

    ref = json.loads((coqui_reference / "reference.json").read_text(encoding="utf-8"))
    model, tokens, _ = coqui.load(coqui_reference / "voice")
    ours = CharTokenizer(tokens)
    ids = ours.ids(ours.sentences(TEXT)[0])
    assert ids == ref["ids"]
    for noise, seed, key in ((0.0, 0, "quiet"), (1.0, 5, "noisy")):
        torch.manual_seed(seed)
        with torch.no_grad():
            got = model.infer(torch.tensor([ids]), torch.tensor([len(ids)]), 0.667 * noise, 1.0,
                              0.8 * noise).reshape(-1).numpy()
        want = np.asarray(ref[key], dtype=np.float32)
        assert got.shape == want.shape and np.max(np.abs(got - want)) <= PARITY


def test_coqui_voice_speaks_bangla(coqui_reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUPLEX_AGENT_CACHE", str(tmp_path))
    folder = coqui_reference / "voice"
    assert detect_format(folder) == "coqui" and detect_format(folder / "model.pth") == "coqui"
    voice = Voice.load(f"coqui:{folder}")
    chunks = list(voice.synthesize(TEXT, voice.settings(noise_w=0.0)))
    assert len(chunks) == 2 and all(0.1 * 22050 < c.size < 20 * 22050 for c in chunks)


def test_coqui_refusals_name_the_field(coqui_reference: Path, tmp_path: Path) -> None:
    from models.tts.voices import coqui

    src = coqui_reference / "voice"
    for i, (change, field) in enumerate((
            (lambda c: c["model_args"].update(use_speaker_embedding=True), "use_speaker_embedding"),
            (lambda c: c.update(use_phonemes=True), "use_phonemes"),
            (lambda c: c["model_args"].update(resblock_type_decoder="2"), "resblock_type_decoder"),
            (lambda c: c.pop("characters"), "characters"),
            (lambda c: c["model_args"].update(hidden_channels_ffn_text_encoder=64), "shape"))):
        d = tmp_path / f"c{i}"
        shutil.copytree(src, d)
        cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
        change(cfg)
        (d / "config.json").write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
        with pytest.raises(VoiceError, match=field):
            coqui.load(d)
    d = tmp_path / "corrupt"
    shutil.copytree(src, d)
    (d / "model.pth").write_bytes(b"\x80\x04 not a checkpoint")
    with pytest.raises(VoiceError, match="weights_only"):
        coqui.load(d)


# --- choosing the kind --------------------------------------------------------------------------------


def test_voice_specs_and_detection(tmp_path: Path, tts_voice: tuple[Vits, Path]) -> None:
    assert parse_voice_spec("piper:/x/v.onnx") == ("piper", Path("/x/v.onnx"))
    assert parse_voice_spec("/x/v.onnx") == (None, Path("/x/v.onnx"))
    assert parse_voice_spec(None) == (None, None)
    with pytest.raises(VoiceError, match="a path must follow"):
        parse_voice_spec("mms:")
    assert detect_format(tts_voice[1]) == "project"
    with pytest.raises(VoiceError, match="not found"):
        Voice.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VoiceError, match="cannot tell"):
        Voice.load(tmp_path / "empty")
    with pytest.raises(VoiceError, match="field 'project'"):
        _project_without_section(tts_voice[1], tmp_path)


def _project_without_section(onnx: Path, tmp_path: Path) -> None:
    d = tmp_path / "noproject"
    d.mkdir()
    shutil.copy(onnx, d / "v.onnx")
    cfg = json.loads(onnx.with_name(onnx.name + ".json").read_text(encoding="utf-8"))
    cfg.pop("project")
    (d / "v.onnx.json").write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    Voice.load(f"project:{d / 'v.onnx'}")
