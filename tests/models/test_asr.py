"""ASR: tokens, error rates, and a random-weight FunASR model folder through the real AutoModel path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.asr.metrics import edit_distance, error_counts, error_rate
from models.asr.tokens import (
    SPACE,
    SPECIAL,
    TokenTable,
    collapse_repeats,
    normalize_transcript,
    text_to_tokens,
    token_inventory,
    tokens_to_text,
)
from tests.conftest import speechlike

SR = 16000


# --- text and tokens ---------------------------------------------------------------------------------------

def test_normalize_transcript_removes_punctuation_and_case() -> None:
    assert normalize_transcript("Turn ON the lights, please!") == "turn on the lights please"
    assert normalize_transcript("  It's  done.  ") == "it's done"
    assert normalize_transcript("আমি ভাত খাব। তুমি?") == "আমি ভাত খাব তুমি"
    assert normalize_transcript("র\u200d্যাব") == "র্যাব"  # joiners carry no sound


def test_nukta_spellings_give_one_token_sequence() -> None:
    precomposed = normalize_transcript("বড়")  # ড় as one code point
    decomposed = normalize_transcript("বড\u09bc")  # ড + nukta
    assert precomposed == decomposed
    assert text_to_tokens(decomposed) == ["ব", "\u09dc"]


def test_bangla_tokens_round_trip() -> None:
    table = TokenTable(token_inventory())
    for text in ("আমি প্রতিদিন সকালে হাঁটতে বের হই", "turn on the fan", "রহিমের বাড়ি ঢাকায়", "ঘরের ৎ ঁ ঃ"):
        norm = normalize_transcript(text)
        ids = table.encode(norm)
        assert table.index["<unk>"] not in ids
        assert table.decode(ids) == norm
        assert tokens_to_text(text_to_tokens(norm)) == norm


def test_collapse_repeats_writes_a_run_of_one_bangla_character_once() -> None:
    assert collapse_repeats("হহয়ছছে কেেম হবেে") == "হয়ছে কেম হবে"
    assert collapse_repeats("good see আমি") == "good see আমি"  # Latin doubles stay
    assert collapse_repeats("ক ক") == "ক ক"  # across a space: two words
    assert collapse_repeats("") == ""


def test_token_inventory_is_unique_with_paraformer_special_ids() -> None:
    tokens = token_inventory()
    assert len(tokens) == len(set(tokens))
    assert tokens[:5] == list(SPECIAL) and tokens.index("<blank>") == 0 and tokens.index("<s>") == 1
    assert SPACE in tokens and "\u09dc" in tokens and "a" in tokens
    table = TokenTable(tokens)
    assert table.encode("x€y") == [table.index["x"], table.index["<unk>"], table.index["y"]]
    with pytest.raises(ValueError, match="duplicates"):
        TokenTable(["<blank>", "<s>", "</s>", "<unk>", "a", "a"])


def test_error_rates() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], ["a"]) == 1
    assert error_counts("আমি ভাত", "আমি ভাত", "bn") == (0, 6)  # 6 code points: spaces are not scored
    assert error_counts("turn on the fan", "turn of the fan", "en") == (1, 4)
    assert error_rate([("ab", "ab"), ("cd", "xd")], "bn") == pytest.approx(0.25)


# --- a random-weight model folder, loaded by FunASR's AutoModel ------------------------------------------

def test_random_model_folder_loads_through_automodel_and_transcribes(asr_model_folder: Path) -> None:
    from models.asr.paraformer import ParaformerRecognizer

    rec = ParaformerRecognizer(asr_model_folder)
    assert type(rec.model).__name__ == "ParaformerStreaming"
    audio = speechlike(np.random.default_rng(1), 3.0)
    text = rec.transcribe(audio)
    assert isinstance(text, str) and text == rec.transcribe(audio)  # deterministic
    assert len(text) > 0


def test_streaming_in_blocks_equals_whole_file_and_partials_are_prefixes(asr_model_folder: Path) -> None:
    from models.asr.paraformer import ParaformerRecognizer

    rec = ParaformerRecognizer(asr_model_folder)
    audio = speechlike(np.random.default_rng(2), 4.1)
    whole = rec.transcribe(audio)
    stream = rec.stream()
    partials = []
    for start in range(0, audio.shape[0], 320):
        partials.append(stream.accept(audio[start : start + 320]))
    final = stream.finish()
    assert final == whole
    assert all(final.replace(" ", "").startswith(p.replace(" ", "")) for p in partials)
    assert stream.finish() == final  # idempotent
    # odd block sizes give the same result too
    s2 = rec.stream()
    for a, b in ((0, 1234), (1234, 20000), (20000, audio.shape[0])):
        s2.accept(audio[a:b])
    assert s2.finish() == whole


def test_stream_rejects_bad_input(asr_model_folder: Path) -> None:
    from models.asr.paraformer import ParaformerRecognizer, StreamingOptions

    rec = ParaformerRecognizer(asr_model_folder)
    stream = rec.stream()
    with pytest.raises(ValueError, match="mono"):
        stream.accept(np.zeros((2, 320), np.float32))
    stream.finish()
    with pytest.raises(RuntimeError, match="finished"):
        stream.accept(np.zeros(320, np.float32))
    with pytest.raises(ValueError, match="chunk_size"):
        StreamingOptions((0, 0, 5))


def test_bad_model_folders_name_the_problem(asr_model_folder: Path, tmp_path: Path) -> None:
    import shutil

    from models.asr.paraformer import AsrModelError, ParaformerRecognizer

    with pytest.raises(AsrModelError, match="not found.*training.asr"):
        ParaformerRecognizer(tmp_path / "nowhere")
    partial = tmp_path / "partial"
    shutil.copytree(asr_model_folder, partial)
    (partial / "am.mvn").unlink()
    with pytest.raises(AsrModelError, match="missing am.mvn"):
        ParaformerRecognizer(partial)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(asr_model_folder, corrupt)
    (corrupt / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(AsrModelError, match="not a readable checkpoint"):
        ParaformerRecognizer(corrupt)


def test_other_funasr_token_lists_keep_funasr_joining(asr_model_folder: Path, tmp_path: Path) -> None:
    """A folder whose tokens are not this project's (no <space>: Chinese characters, English word pieces) is
    joined by FunASR's own post-processing; this project's folders by the project's rules."""
    import json
    import shutil

    from models.asr.paraformer import ParaformerRecognizer

    ours = ParaformerRecognizer(asr_model_folder)
    assert ours.project_tokens and ours.text_of(["আ", "ম", "ি", "<space>", "ভ", "া", "ত"]) == "আমি ভাত"
    other = tmp_path / "other"
    shutil.copytree(asr_model_folder, other)
    tokens = json.loads((other / "tokens.json").read_text(encoding="utf-8"))
    tokens[4:7] = ["hel@@", "lo", "world"]  # word pieces instead of <space> and two Bengali signs
    (other / "tokens.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
    rec = ParaformerRecognizer(other)
    assert not rec.project_tokens
    assert rec.text_of(["hel@@", "lo", "world"]) == "hello world"
    assert rec.text_of([]) == ""
    assert isinstance(rec.transcribe(speechlike(np.random.default_rng(4), 2.0)), str)


def test_shipped_model_recognises_a_bangla_sentence_streaming_as_whole_file() -> None:
    """The shipped model: its card exists, streaming 20 ms blocks equals one call, and it recognises a sentence
    of a training voice better than chance (the model is an early one: see its card for measured error rates)."""
    import json

    from audio_io.speech_synth import SynthVoice, synthesize
    from models.asr.paraformer import SHIPPED_MODEL, ParaformerRecognizer

    card = json.loads((SHIPPED_MODEL / "card.json").read_text(encoding="utf-8"))
    assert card["training"]["command"].startswith("python -m training.asr")
    rec = ParaformerRecognizer(SHIPPED_MODEL)
    text = "আমি প্রতিদিন সকালে হাঁটতে বের হই"
    audio = np.concatenate([np.zeros(4000, np.float32), synthesize(text, SynthVoice("espeak-ng", "bn", "bn"), SR),
                            np.zeros(8000, np.float32)])
    stream = rec.stream()
    for start in range(0, audio.shape[0], 320):
        stream.accept(audio[start : start + 320])
    final = stream.finish()
    assert final == rec.transcribe(audio)
    assert error_rate([(normalize_transcript(text), final)], "bn") < 0.7
