"""ASR on onnxruntime: graphs with explicit caches, the host's chunk loop, the same tokens as the torch path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import speechlike


@pytest.fixture(scope="module")
def onnx_folder(asr_model_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from models.asr.onnx_export import write_onnx

    out = tmp_path_factory.mktemp("asr_onnx") / "model"
    meta = write_onnx(asr_model_folder, out)
    assert meta["check_tokens"] > 0  # the check compared real output, not two empty sequences
    return out


def _tokens(rec, audio: np.ndarray, block: int) -> list[str]:  # noqa: ANN001
    s = rec.stream()
    for start in range(0, audio.shape[0], block):
        s.accept(audio[start : start + block])
    s.finish()
    return s.tokens


@pytest.mark.parametrize("options", [((0, 10, 5), 4, 1), ((0, 8, 4), 2, 2), ((0, 10, 5), 0, 0), ((0, 6, 0), -1, 1)])
def test_onnx_gives_the_torch_tokens(onnx_folder: Path, options: tuple) -> None:
    """Every chunk setting (look-ahead, look-backs, unbounded look-back, none) and several lengths, incl. a tail
    shorter than one feature frame: the token sequences are identical."""
    from models.asr.onnx_runtime import OnnxParaformerRecognizer
    from models.asr.paraformer import ParaformerRecognizer, StreamingOptions

    opts = StreamingOptions(*options)
    torch_rec, onnx_rec = ParaformerRecognizer(onnx_folder, opts), OnnxParaformerRecognizer(onnx_folder, opts)
    rng = np.random.default_rng(3)
    total = 0
    for seconds in (0.5, 2.3, 4.0, 3.84 + 0.03):
        audio = speechlike(rng, seconds)
        a = _tokens(torch_rec, audio, 320)
        assert _tokens(onnx_rec, audio, 320) == a
        total += len(a)
    assert total > 0


def test_encoder_graph_matches_torch_step(onnx_folder: Path) -> None:
    import onnxruntime as ort
    import torch

    from models.asr.onnx_export import _EncoderStep
    from models.asr.paraformer import ParaformerRecognizer

    rec = ParaformerRecognizer(onnx_folder)
    step = _EncoderStep(rec.model).eval()
    meta = json.loads((onnx_folder / "onnx.json").read_text())
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 15, meta["feat_dim"], generator=g)
    caches = [torch.randn(1, meta["heads"], 20, meta["d_k"], generator=g) for _ in range(2 * meta["encoder_layers"])]
    with torch.no_grad():
        want = step(x, *caches)
    sess = ort.InferenceSession(str(onnx_folder / "encoder.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    got = sess.run(None, dict(zip(names, [x.numpy(), *[c.numpy() for c in caches]], strict=True)))
    for w, o in zip(want, got, strict=True):
        assert np.max(np.abs(w.numpy() - o)) <= 1e-4


def test_position_encoding_is_funasrs() -> None:
    import torch
    from funasr.models.transformer.embedding import StreamSinusoidalPositionEncoder

    from models.asr.onnx_runtime import position_encoding

    pe = StreamSinusoidalPositionEncoder()
    cache = {"start_idx": 0}
    for frames in (15, 10, 7):
        start = cache["start_idx"]
        want = pe(torch.zeros(1, frames, 560), cache)[0].numpy()
        np.testing.assert_allclose(position_encoding(start, frames, 560), want, atol=1e-5)


def test_cif_fires_at_the_threshold_and_carries_the_rest() -> None:
    from models.asr.onnx_runtime import cif_chunk

    state = {"cif_alpha": np.float32(0.0), "cif_hidden": np.zeros(2, np.float32)}
    hidden = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    out = cif_chunk(hidden, np.array([0.6, 0.6, 0.3], np.float32), 1.0, state)
    # First token: 0.6·h0 + 0.4·h1; the rest 0.2·h1 + 0.3·h2 stays (0.5 of weight) for the next chunk.
    np.testing.assert_allclose(out, [[0.6, 0.4]], atol=1e-6)
    assert state["cif_alpha"] == pytest.approx(0.5)
    np.testing.assert_allclose(state["cif_hidden"], [0.3 / 0.5, 0.5 / 0.5], atol=1e-6)
    out = cif_chunk(hidden[:1], np.array([0.5], np.float32), 1.0, state)
    np.testing.assert_allclose(out, [[0.3 + 0.5, 0.5]], atol=1e-6)


def test_missing_or_bad_onnx_files_name_the_problem(asr_model_folder: Path, onnx_folder: Path,
                                                    tmp_path: Path) -> None:
    from models.asr.onnx_runtime import OnnxParaformerRecognizer
    from models.asr.paraformer import AsrModelError

    with pytest.raises(AsrModelError, match="no ONNX export.*training.asr onnx"):
        OnnxParaformerRecognizer(asr_model_folder)
    old = tmp_path / "old"
    shutil.copytree(onnx_folder, old)
    meta = json.loads((old / "onnx.json").read_text())
    (old / "onnx.json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(AsrModelError, match="format 99.*re-export"):
        OnnxParaformerRecognizer(old)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(onnx_folder, corrupt)
    (corrupt / "encoder.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(AsrModelError, match="onnxruntime could not load"):
        OnnxParaformerRecognizer(corrupt)


def test_config_backends_and_the_cached_export(asr_model_folder: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``asr.backend`` auto/onnx export a folder without graphs once into the cache (then reuse it); torch
    loads FunASR's model; the folder the user named stays the recogniser's model_dir."""
    from agent.config import AgentConfig, build
    from models.asr.paraformer import recognizer_from_config

    monkeypatch.setenv("DUPLEX_AGENT_CACHE", str(tmp_path))
    base = build(AgentConfig, {"asr": {"model_dir": str(asr_model_folder)}}).asr
    rec = recognizer_from_config(base)
    assert rec.backend == "onnx" and rec.model_dir == asr_model_folder
    made = list((tmp_path / "asr_onnx").iterdir())
    assert len(made) == 1 and (made[0] / "encoder.onnx").is_file()
    stamp = (made[0] / "encoder.onnx").stat().st_mtime_ns
    again = recognizer_from_config(build(AgentConfig, {"asr": {"model_dir": str(asr_model_folder),
                                                               "backend": "onnx"}}).asr)
    assert again.backend == "onnx" and (made[0] / "encoder.onnx").stat().st_mtime_ns == stamp
    torch_rec = recognizer_from_config(build(AgentConfig, {"asr": {"model_dir": str(asr_model_folder),
                                                                   "backend": "torch"}}).asr)
    assert torch_rec.backend == "torch"
    audio = speechlike(np.random.default_rng(9), 2.5)
    assert rec.transcribe(audio) == torch_rec.transcribe(audio)
    assert rec.collapse_repeats and torch_rec.collapse_repeats
    plain = recognizer_from_config(build(AgentConfig, {"asr": {"model_dir": str(asr_model_folder),
                                                               "collapse_repeats": False}}).asr)
    assert not plain.collapse_repeats
    assert plain.text_of(["ক", "ক", "ে", "ে", "<space>", "s", "e", "e"]) == "ককেে see"
    assert rec.text_of(["ক", "ক", "ে", "ে", "<space>", "s", "e", "e"]) == "কে see"


def test_auto_falls_back_to_torch_when_the_cache_cannot_be_written(asr_model_folder: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A read-only install (the cache is not writable): auto runs on torch with a warning, onnx is an error."""
    import logging

    from agent.config import AgentConfig, build
    from models.asr.paraformer import AsrModelError, recognizer_from_config

    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("DUPLEX_AGENT_CACHE", str(blocker))
    with caplog.at_level(logging.WARNING, logger="models.asr.paraformer"):
        rec = recognizer_from_config(build(AgentConfig, {"asr": {"model_dir": str(asr_model_folder)}}).asr)
    assert rec.backend == "torch" and "using torch" in caplog.text
    with pytest.raises(AsrModelError, match="no ONNX backend"):
        recognizer_from_config(build(AgentConfig, {"asr": {"model_dir": str(asr_model_folder), "backend": "onnx"}}).asr)


def test_onnx_cli_writes_a_complete_folder(asr_model_folder: Path, tmp_path: Path) -> None:
    import logging

    from training.asr.__main__ import main

    laec = logging.getLogger("models.aec.laec")
    level = laec.level  # the command quiets the LAEC's logger for itself; other tests read its warnings
    try:
        out = tmp_path / "exported"
        assert main(["onnx", "--model", str(asr_model_folder), "--out", str(out)]) == 0
        assert {"config.yaml", "model.pt", "am.mvn", "tokens.json", "encoder.onnx", "decoder.onnx", "onnx.json"} <= {
            p.name for p in out.iterdir()}
        assert main(["onnx", "--model", str(tmp_path / "nowhere")]) == 1
    finally:
        laec.setLevel(level)


def test_shipped_model_onnx_backend_reads_a_sentence_as_torch_does() -> None:
    """The agent's default (asr.backend auto → onnx) on the shipped model: the same text as FunASR's torch model on
    a sentence streamed in 20 ms blocks."""
    from agent.config import AgentConfig, build
    from audio_io.speech_synth import SynthVoice, synthesize
    from models.asr.paraformer import SHIPPED_MODEL, ParaformerRecognizer, recognizer_from_config

    rec = recognizer_from_config(build(AgentConfig, {}).asr)
    assert rec.backend == "onnx" and rec.model_dir == SHIPPED_MODEL
    audio = np.concatenate([np.zeros(4000, np.float32),
                            synthesize("রহিম আজ সকালে বাজারে গেছে", SynthVoice("espeak-ng", "bn", "bn"), 16000),
                            np.zeros(8000, np.float32)])
    want = _tokens(ParaformerRecognizer(SHIPPED_MODEL), audio, 320)
    assert len(want) > 5 and _tokens(rec, audio, 320) == want


def test_a_model_with_30_ms_features_streams_in_its_own_chunks_on_both_backends(tmp_path: Path) -> None:
    """lfr_n 3 (one feature vector per 30 ms): chunks of chunk_size[1] vectors are 300 ms, each gives that many
    vectors to the encoder, and onnx and torch give the same tokens."""
    import torch

    from models.asr.onnx_export import write_onnx
    from models.asr.onnx_runtime import OnnxParaformerRecognizer
    from models.asr.paraformer import ParaformerRecognizer
    from training.asr.folder import build_model, paraformer_config, write_model_folder

    torch.manual_seed(1)
    config = paraformer_config(dim=64, encoder_blocks=2, decoder_blocks=1, heads=2, ffn=128, specaug=False, lfr_n=3)
    rng = np.random.default_rng(1)
    folder = write_model_folder(tmp_path / "model", config, build_model(config).state_dict(),
                                rng.normal(10, 1, 560), np.full(560, 3.0))
    out = tmp_path / "onnx"
    write_onnx(folder, out)
    torch_rec, onnx_rec = ParaformerRecognizer(out), OnnxParaformerRecognizer(out)
    assert torch_rec.hop_samples == onnx_rec.hop_samples == 480
    assert torch_rec.chunk_samples == onnx_rec.chunk_samples == 4800
    state, audio = onnx_rec.new_state(), speechlike(rng, 1.0)
    # 10 vectors per chunk; the first chunk gives 9 (the frontend holds back the LFR context)
    assert [onnx_rec._features(state, audio[i : i + 4800], is_final=False).shape[0] for i in (0, 4800)] == [9, 10]
    total = 0
    for seconds in (0.7, 2.3, 3.03):
        audio = speechlike(rng, seconds)
        a = _tokens(torch_rec, audio, 320)
        assert _tokens(onnx_rec, audio, 320) == a
        total += len(a)
    assert total > 0
