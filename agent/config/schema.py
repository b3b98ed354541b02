"""The configuration schema: one frozen section per pipeline stage.

``configs/agent.yaml`` maps onto :class:`AgentConfig` section by section. Every key has a doc
string, a default and, for numbers, an inclusive range; ``python -m agent config --docs`` prints
them all and ``docs/config.md`` is generated from this file (a test keeps it in sync).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.config.base import ConfigError, section, setting

Backend = Literal["auto", "device", "room", "wav"]
NoiseKind = Literal["none", "white", "pink", "babble"]
ComputeKind = Literal["fixed", "real_time"]


@dataclass(frozen=True)
class AudioConfig:
    """Audio I/O: the backend and the device settings."""

    backend: Backend = setting(
        "auto",
        "Where audio comes from: 'device' (sound card), 'room' (simulated room), 'wav' (files), or "
        "'auto' (the sound card if one exists, else the simulated room).",
    )
    sample_rate: int = setting(16000, "Internal sample rate in Hz (the whole pipeline runs at 16 kHz).", min=16000, max=16000)
    block_ms: int = setting(20, "Duration of one duplex block in ms (the echo chain's hop).", min=20, max=20)
    input_device: int | str | None = setting(None, "Input device index or name substring; null = system default.")
    output_device: int | str | None = setting(None, "Output device index or name substring; null = system default.")
    device_sample_rate: int | None = setting(
        None, "Sample rate to open the device at in Hz; null = the device's default rate.", min=8000, max=192000
    )
    playback_buffer_s: float = setting(
        120.0, "Most audio (seconds) that may wait in the playback queue; a reply that runs further ahead waits for "
        "room, and one chunk longer than this is refused with an error.", min=1, max=3600
    )
    capture_queue_blocks: int = setting(
        50, "Device blocks that may wait for the pipeline; when full, new blocks are dropped and counted as overruns.", min=4, max=10000
    )
    stop_fade_ms: float = setting(5.0, "Fade-out applied when playback is stopped at once (barge-in), ms.", min=0, max=20)
    reopen_backoff_s: tuple[float, ...] = setting(
        (0.2, 0.5, 1.0, 2.0, 5.0), "Waits (s) between attempts to re-open the device after an error; the last repeats."
    )

    def validate(self) -> None:
        if not self.reopen_backoff_s or any(v < 0 for v in self.reopen_backoff_s):
            raise ConfigError("reopen_backoff_s: needs at least one non-negative wait")


@dataclass(frozen=True)
class DelayJump:
    """A scheduled change of the bulk delay (simulated room)."""

    at_s: float = setting(0.0, "Scene time of the jump in seconds.", min=0)
    delay_ms: float = setting(0.0, "New bulk delay in ms.", min=0, max=400)


@dataclass(frozen=True)
class RoomConfig:
    """The simulated room: loudspeaker, room acoustics, delay, drift, noise."""

    seed: int = setting(0, "Random seed; the same seed reproduces the scene bit for bit.", min=0)
    room_dim_m: tuple[float, float, float] = setting((5.0, 4.0, 3.0), "Shoebox room size in metres (x, y, z).", min=1.5, max=30)
    rt60_s: float = setting(0.4, "Reverberation time RT60 in seconds.", min=0.1, max=0.8)
    speaker_pos_m: tuple[float, float, float] = setting(
        (2.0, 2.0, 1.0), "Loudspeaker position in metres (inside the room)."
    )
    mic_pos_m: tuple[float, float, float] = setting((2.1, 2.0, 1.0), "Microphone position in metres (inside the room).")
    talker_pos_m: tuple[float, float, float] = setting(
        (3.2, 2.6, 1.5), "Default near-end talker position in metres (inside the room)."
    )
    volume: float = setting(0.7, "Playback volume, a fraction of full scale (0.7 and 1.0 are the paper's levels).", min=0, max=1)
    nonlinearity: bool = setting(True, "Apply the loudspeaker nonlinearity (clipping + sigmoid, DESIGN §8).")
    clip_level: float = setting(0.8, "Loudspeaker clipping level x_max as a fraction of full scale.", min=0.05, max=1)
    nl_gain: float = setting(
        1.0, "Output gain gamma of the sigmoid nonlinearity (the AEC challenge used 4; the echo level is set by echo_gain_db).",
        min=0.1, max=10,
    )
    speaker_band_hz: tuple[float, float] = setting(
        (200.0, 7000.0), "Loudspeaker pass band in Hz (a small device speaker has little bass).", min=20, max=7990
    )
    mic_band_hz: tuple[float, float] = setting((80.0, 7800.0), "Microphone pass band in Hz.", min=20, max=7990)
    echo_gain_db: float = setting(
        0.0, "Level of the echo path in dB: the linear path (speaker, room, mic) is normalised to unit energy, "
        "so a played signal of RMS r at volume v reaches the mic at about v*r*gain (nonlinearity off).",
        min=-60, max=30,
    )
    delay_ms: float = setting(60.0, "Bulk delay (device latency) between the played block and the speaker, ms.", min=0, max=400)
    delay_jumps: tuple[DelayJump, ...] = setting((), "Scheduled delay changes: a list of {at_s, delay_ms}.")
    drift_ppm: float = setting(
        0.0, "Clock drift between playback and capture in parts per million (+ = delay grows).", min=-200, max=200
    )
    noise: NoiseKind = setting("none", "Background noise at the mic: none, white, pink or babble.")
    snr_db: float = setting(30.0, "Noise level: SNR in dB against the near-end talkers' reference level.", min=-10, max=80)
    talker_level_dbfs: float = setting(-32.0, "Level of near-end speech at the mic in dBFS (RMS over active speech).", min=-60, max=0)
    paced: bool = setting(False, "Run at real time (for interactive demos) instead of as fast as possible.")
    compute: ComputeKind = setting(
        "fixed", "How a fast (unpaced) run counts the agent's computation (final transcript, responder, synthesis): "
        "fixed = the room stops while the agent computes and each reply to a user turn starts compute_latency_ms "
        "after the end-of-turn decision, so runs repeat exactly; real_time = the room runs at real time while the "
        "agent computes, so this machine's speed (and load) shows in the latencies.",
    )
    compute_latency_ms: float = setting(
        200.0, "With compute: fixed, the time charged from the end-of-turn decision to a reply's first audio, ms.",
        min=0, max=5000,
    )

    def validate(self) -> None:
        for name in ("speaker_band_hz", "mic_band_hz"):
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ConfigError(f"{name}: low edge {lo} must be below high edge {hi}")
        for name in ("speaker_pos_m", "mic_pos_m", "talker_pos_m"):
            pos = getattr(self, name)
            if any(not (0 < p < d) for p, d in zip(pos, self.room_dim_m, strict=True)):
                raise ConfigError(f"{name}: {list(pos)} is not inside the room {list(self.room_dim_m)}")
        times = [j.at_s for j in self.delay_jumps]
        if times != sorted(times):
            raise ConfigError("delay_jumps: must be sorted by at_s")


@dataclass(frozen=True)
class TdeConfig:
    """Time-delay estimation (GCC-PHAT)."""

    max_delay_ms: float = setting(500.0, "Largest delay searched, ms.", min=20, max=1000)
    window_s: float = setting(1.0, "Length of the sliding correlation window, s.", min=0.25, max=4)
    updates_per_s: float = setting(4.0, "Estimate updates per second.", min=0.5, max=50)


@dataclass(frozen=True)
class LaecConfig:
    """Linear echo canceller (frequency-domain adaptive filter)."""

    tail_ms: float = setting(256.0, "Echo tail covered by the filter after alignment, ms.", min=40, max=1000)
    nonlinear_tail_ms: float = setting(
        128.0, "Tail of the Hammerstein branch fed with the rectified reference |x| (asymmetric loudspeaker "
        "distortion), ms; 0 = linear filter only.", min=0, max=1000)
    prior_rt60_ms: float = setting(
        0.0, "Reverberation time the filter's prior on the echo path assumes, ms: the initial uncertainty of each "
        "later 20 ms partition of taps falls by 60 dB per this much tail, so the filter adapts the direct path and "
        "early reflections first and converges faster (400: 2-3 dB less residual echo in the first seconds; "
        "off by default: the user's backchannels then reach the VAD and interrupt, docs/decisions.md); 0 = the "
        "same uncertainty for every partition.", min=0, max=2000)
    carry_taps: bool = setting(
        False, "At the first delay estimate, move what the filter learned with the undelayed reference along with "
        "the reference instead of starting over (faster start; off by default, docs/decisions.md).")


@dataclass(frozen=True)
class PwfConfig:
    """Post Wiener filter with two outputs."""

    beta_vad: float = setting(0.6, "Exponent of the Wiener mask for the VAD output (stronger suppression).", min=0, max=2)
    beta_asr: float = setting(0.2, "Exponent of the Wiener mask for the ASR output (less distortion).", min=0, max=2)


@dataclass(frozen=True)
class AecConfig:
    """The echo chain: TDE -> LAEC -> RES -> PWF."""

    tde: TdeConfig = section(TdeConfig, "Time-delay estimation.")
    laec: LaecConfig = section(LaecConfig, "Linear echo canceller.")
    pwf: PwfConfig = section(PwfConfig, "Post Wiener filter.")
    res_model: str | None = setting(
        "shipped", "Residual echo suppressor: 'shipped' = the model in models/aec/res/ (classical masks, with a "
        "warning, if that file is missing), a path to an ONNX model, or null = classical masks only (the shipped "
        "VAD was chosen with the RES on and fires more often on echo with null: docs/results_vad.md).")


@dataclass(frozen=True)
class VadConfig:
    """Semantic VAD, endpointer and barge-in policy."""

    model: str | None = setting(
        None, "VAD ONNX model: null = the model shipped in models/vad/vad_dfsmn.onnx, or a path."
    )
    speech_threshold: float = setting(0.5, "Speech probability at which a frame starts counting as speech.", min=0, max=1)
    release_threshold: float = setting(
        0.35, "Speech probability below which a frame counts as silence once speech has started (hysteresis).", min=0, max=1
    )
    min_speech_ms: float = setting(60.0, "Speech needed before a speech start is declared, ms.", min=0, max=2000)
    hangover_ms: float = setting(200.0, "Silence needed before a speech end is declared, ms.", min=0, max=5000)
    end_of_turn_threshold: float = setting(
        0.9, "End-of-turn probability at which a silent frame after speech ends the turn (higher: fewer premature ends, later ends).", min=0, max=1
    )
    max_silence_ms: float = setting(
        1200.0, "Silence after speech that ends the turn whatever the model says, ms (the fallback timeout).",
        min=100, max=10000,
    )
    barge_in_threshold: float = setting(
        0.7, "Speech probability a frame needs to count toward a barge-in while the agent speaks.", min=0, max=1
    )
    barge_in_min_speech_ms: float = setting(
        120.0, "Speech needed (frames above barge_in_threshold in a row) before a barge-in is declared, ms.",
        min=20, max=2000,
    )
    barge_in_max_gap_ms: float = setting(
        40.0, "While the agent speaks, a barge-in run survives a dip below barge_in_threshold of up to this long (the "
        "dip's frames do not count toward barge_in_min_speech_ms); 0 = any dip starts the run again, ms.", min=0, max=500,
    )
    barge_in_fast_min_speech_ms: float = setting(
        60.0, "A second, quicker way to a barge-in while the agent speaks: this much speech with every frame at or above "
        "barge_in_fast_threshold (no dips) is a barge-in too, whichever comes first; 0 = off, ms.", min=0, max=2000,
    )
    barge_in_fast_threshold: float = setting(
        0.95, "Speech probability every frame of a quick barge-in run needs (see barge_in_fast_min_speech_ms); "
        "a frame also needs barge_in_threshold, so a lower value than that one acts as barge_in_threshold.",
        min=0, max=1,
    )
    barge_in_cooldown_ms: float = setting(
        300.0, "Time after the agent starts speaking before a barge-in is allowed, ms.", min=0, max=5000
    )
    barge_in_echo_gate: bool = setting(
        False, "While the agent speaks, a barge-in also needs frames that the echo chain does not mark as "
        "echo-dominated (see barge_in_double_talk_share). Off by default: the shipped VAD is echo-aware (it reads the "
        "chain's echo estimate); turn it on for a VAD model that reads the cleaned signal alone."
    )
    barge_in_double_talk_share: float = setting(
        1.0, "With the echo gate on: the share of the last barge_in_min_speech_ms of a barge-in's speech run "
        "that must not be echo-dominated (the chain's double-talk test fired, or no far end); 1.0 = every frame.", min=0.05, max=1
    )
    barge_in_warmup_ms: float = setting(
        1500.0, "At start-up the echo canceller converges on the agent's first speech: until this much far-end "
        "audio has been played, no barge-in is possible, ms.", min=0, max=10000)
    barge_in_tail_ms: float = setting(
        600.0, "After playback ends, the barge-in rules still apply for this long (the echo path's delay and "
        "reverberation), ms.", min=0, max=5000)
    text_cue: str | None = setting(
        None, "End-of-turn text cue (models/vad/text_cue.py): 'shipped' = models/vad/text_cue.json, a path, or "
        "null = off (the VAD's end_of_turn_threshold alone). With it, once a pause has lasted text_cue_after_ms, the "
        "ASR's words so far are scored (do they end a sentence?) and the pause's end-of-turn threshold becomes "
        "text_finished_eot_threshold or text_unfinished_eot_threshold. Off by default: its validated setting moves "
        "with each ASR model and the latest one failed the scenario library (docs/decisions.md, the cue's fifth "
        "look). `python -m agent vad` runs the VAD alone (no ASR, no cue).")
    text_cue_after_ms: float = setting(
        100.0, "Silence after speech before the text cue reads the ASR's words (one flush of the ASR per pause), ms.",
        min=0, max=5000)
    text_end_threshold: float = setting(
        0.3, "Text cue probability at which the words so far count as a finished sentence.", min=0, max=1)
    text_finished_eot_threshold: float = setting(
        0.8, "End-of-turn probability that ends the turn in a pause after words that end a sentence (the default and "
        "the three around it: the fastest setting with at most 2 % premature ends on validation material with the "
        "ASR shipped before 2026-12-07's sixth session, benchmarks/vad_bench.py --split valid; with the one shipped "
        "then: 160 ms, 0.5, 0.3, 0.95; 0.3 with text_end_threshold 0.5 and text_cue_after_ms 60 for true words).",
        min=0, max=1)
    text_unfinished_eot_threshold: float = setting(
        0.95, "End-of-turn probability that ends the turn in a pause after words that do not end a sentence.",
        min=0, max=1)
    threads: int = setting(1, "onnxruntime threads for the VAD model.", min=1, max=16)

    def validate(self) -> None:
        if self.release_threshold > self.speech_threshold:
            raise ConfigError(
                f"release_threshold: {self.release_threshold} is above speech_threshold {self.speech_threshold}; "
                "it must be lower or equal (hysteresis)"
            )


@dataclass(frozen=True)
class AsrConfig:
    """Streaming Paraformer ASR."""

    model_dir: str | None = setting(
        None, "Local FunASR model folder (config.yaml, model.pt, tokens.json or tokens.txt, am.mvn); null = the "
        "shipped model in models/weights/asr_paraformer_bn_en."
    )
    chunk_size: tuple[int, int, int] = setting((0, 10, 5), "FunASR streaming chunk_size [0, chunk, look-ahead] in the model's feature frames (60 ms for FunASR's released models: 600 ms chunks, 300 ms look-ahead; 30 ms for the shipped one, trained with lfr_n 3: 300 ms chunks, 150 ms look-ahead).", min=0, max=64)
    encoder_chunk_look_back: int = setting(4, "Encoder look-back in chunks.", min=0, max=64)
    decoder_chunk_look_back: int = setting(1, "Decoder look-back in chunks.", min=0, max=64)
    ncpu: int = setting(1, "CPU threads for the recogniser.", min=1, max=64)
    backend: Literal["auto", "onnx", "torch"] = setting(
        "auto", "Recogniser backend: 'onnx' (onnxruntime; the folder's encoder.onnx/decoder.onnx, or an export made "
        "once into cache/asr_onnx/), 'torch' (FunASR's model), or 'auto' (onnx, and torch with a warning when the "
        "model cannot be exported). Both give the same text.")

    collapse_repeats: bool = setting(
        True, "For this project's models (one token per character): a Bangla character the model writes twice or more "
        "in a row is written once (the model's CIF predictor sometimes fires twice on one character; Bangla spelling "
        "almost never repeats a code point). Measured on validation voices: CER 31.5 -> 24.7 % clean, 64.4 -> 60.1 % "
        "with echo (docs/decisions.md). Other FunASR models are not affected.")

    def validate(self) -> None:
        if self.chunk_size[1] < 1:
            raise ConfigError(f"chunk_size: {list(self.chunk_size)}: the middle value (chunk length) must be >= 1")


@dataclass(frozen=True)
class TtsConfig:
    """Bangla text-to-speech."""

    engine: Literal["auto", "vits", "espeak"] = setting(
        "auto", "Speech engine: 'vits' (the voice below), 'espeak' (espeak-ng, robotic but always there), or 'auto' "
        "(vits, and espeak-ng with a warning when the voice file is missing).")
    voice: str | None = setting(
        None, "Voice: a file or folder (its kind is detected) or KIND:PATH with KIND project, piper, coqui or mms "
        "(Coqui and MMS checkpoints are converted once into cache/voices/), or a two-stage AlignTTS acoustic model "
        "(its vocoder: tts.vocoder); null = the shipped demo voice when there is one.")
    vocoder: str | None = setting(
        None, "Vocoder of a two-stage voice (an AlignTTS acoustic model): a HiFi-GAN or UnivNet .onnx exported by "
        "python -m training.tts; null = the one the voice's .onnx.json names. One-stage voices (VITS) take none.")
    speaker: str | None = setting(None, "Speaker of a multi-speaker Piper voice (name or id); null = its default.")
    espeak_voice: str = setting("bn", "espeak-ng voice for the 'espeak' engine (e.g. bn, bn+f3).")
    length_scale: float = setting(1.0, "Speaking duration scale (>1 is slower).", min=0.25, max=4)
    noise_scale: float = setting(0.667, "VITS prior noise scale.", min=0, max=2)
    noise_scale_w: float = setting(0.8, "VITS duration noise scale.", min=0, max=2)
    sentence_silence_s: float = setting(0.2, "Silence after each sentence, s.", min=0, max=5)
    seed: int | None = setting(
        0, "Seed of the voice's sampled noise (VITS prior and durations, UnivNet input): the same seed and text give "
        "the same audio, so sessions and scenarios repeat exactly; null = different on every start.", min=0)
    threads: int = setting(1, "onnxruntime threads for synthesis.", min=1, max=64)
    max_text_chars: int = setting(20000, "Longest text accepted for one request, characters.", min=1, max=100_000)


@dataclass(frozen=True)
class HttpResponderConfig:
    """The ``http`` responder: an OpenAI-compatible chat-completions endpoint."""

    url: str = setting("http://127.0.0.1:8000/v1/chat/completions", "Chat-completions URL (http or https).")
    model: str = setting("default", "Model name sent in the request.")
    api_key_env: str | None = setting(
        "OPENAI_API_KEY", "Environment variable holding the API key (sent as a Bearer token when set); null = none.")
    system_prompt: str = setting(
        "You are a helpful voice assistant. Answer briefly, in Bangla, in plain sentences without markup.",
        "System message sent before the conversation.")
    timeout_s: float = setting(15.0, "Time allowed for the connection and for each streamed piece, s.", min=0.1, max=300)
    history_turns: int = setting(6, "Earlier user/assistant exchanges sent with each request.", min=0, max=100)
    max_reply_chars: int = setting(2000, "Longest reply spoken; the rest is dropped.", min=1, max=100_000)


@dataclass(frozen=True)
class TurnConfig:
    """Agent behaviour: turn taking, responder, greeting, event log."""

    responder: str = setting(
        "echo", "Who answers a finished turn: 'echo' (repeats it), 'rules' (intents in rules_file), 'http' "
        "(a chat-completions endpoint, see agent.http), or 'package.module:ClassName' for your own responder.")
    rules_file: str = setting("configs/intents.yaml", "Intents of the 'rules' responder (YAML; relative to the repo).")
    http: HttpResponderConfig = section(HttpResponderConfig, "The 'http' responder.")
    greeting: str = setting(
        "নমস্কার! আমি আপনার সহকারী। আমি কথা বলার সময়েও আপনি আমাকে থামিয়ে প্রশ্ন করতে পারেন, আমি শুনছি।",
        "Spoken when the session starts; empty = start by listening.")
    apology: str = setting(
        "দুঃখিত, এখন উত্তর দিতে পারছি না।", "Spoken when the responder fails or times out.")
    backchannel_max_ms: float = setting(
        600.0, "While the agent speaks, user speech that ends within this long of its onset (a backchannel such as "
        "হুঁ, a cough, a knock) only pauses the reply: playback stops at the barge-in as always, what was queued is "
        "kept, and when the user's speech end shows the run was this short the reply resumes where it stopped "
        "(event playback_resumed; the ASR's words of it are dropped) unless those words hold one of "
        "agent.stop_words or a word outside agent.backchannel_words; longer speech cancels the reply. 0 = every "
        "barge-in cancels the reply (benchmarks/short_word_verdict.py compares the two).", min=0, max=3000)
    stop_words: tuple[str, ...] = setting(
        ("না", "থামো", "থামুন", "থাম", "দাঁড়াও", "দাঁড়ান", "চুপ", "stop", "no", "wait", "cancel"),
        "Words that make a short barge-in (agent.backchannel_max_ms) stop the agent after all: when the ASR hears "
        "one of them as a whole word in the user's short speech, the reply is cancelled and the words become the "
        "user's turn.")
    backchannel_words: tuple[str, ...] = setting(
        ("হুঁ", "হু", "হুম", "হুঁহুঁ", "উঁ", "উম", "হ্যাঁ", "আচ্ছা", "ঠিক", "আছে", "ও", "আহা", "বাহ",
         "mm", "hmm", "mhm", "uh-huh", "yeah", "yes", "ok", "okay", "right", "sure"),
        "The only words (single words, no spaces) a short barge-in (agent.backchannel_max_ms) may hold for the reply "
        "to resume: when the ASR "
        "hears any other word in it, the agent stops after all, as for a stop word (a short command the recogniser "
        "mishears is still a command); no words at all (a cough, a knock) resume the reply. Empty = any words "
        "without a stop word resume it.")
    short_word_model: str | None = setting(
        "shipped", "The short-word spotter (models/kws) that judges a short barge-in (agent.backchannel_max_ms) from "
        "its audio: 'shipped' = models/kws/short_word_spotter.onnx, a path, or null = off (the ASR's words and the "
        "two word lists judge it). When on, a stop word the ASR hears still stops the agent; otherwise the reply "
        "resumes only when the spotter calls the run a backchannel or a noise with probability "
        "agent.short_word_threshold or more (its own word lists, in its card, replace agent.backchannel_words).")
    short_word_threshold: float = setting(
        0.85, "Probability of 'backchannel or noise' (the spotter's p_ride) a short run needs for the reply to resume "
        "(agent.short_word_model on); higher = fewer rides, no command talked over. 0.85 was chosen on the "
        "spotter's validation examples (python -m training.kws sweep: 98 % of stop words stopped).", min=0, max=1)
    asr_preroll_ms: float = setting(
        300.0, "Audio before the speech-start decision that the ASR also gets (the word onset), ms.", min=0, max=2000)
    event_log: str | None = setting(None, "Write every event as JSON lines to this file; null = off.")
    status_line: bool = setting(True, "Show a live one-line status in the terminal (only when stdout is a terminal).")
    scripted_user: bool = setting(
        True, "In the simulated room, a scripted user talks, interrupts the agent and is answered; false = the room "
        "only plays the agent (nobody talks).")
    max_session_s: float | None = setting(
        None, "End the session after this many seconds of audio; null = run until Ctrl-C (in the simulated room "
        "with the scripted user: until the script is done).", min=1, max=1e7)

    def validate(self) -> None:
        for name in ("stop_words", "backchannel_words"):
            bad = [w for w in getattr(self, name) if not w.strip() or len(w.split()) > 1]
            if bad:
                raise ConfigError(f"{name}: {bad!r} — each entry must be one word (the ASR's text is matched word by "
                                  "word)")


@dataclass(frozen=True)
class MqttConfig:
    """MQTT bridge."""

    enabled: bool = setting(False, "Connect to an MQTT broker.")
    host: str = setting("127.0.0.1", "Broker host name or address.")
    port: int = setting(1883, "Broker TCP port.", min=1, max=65535)
    prefix: str = setting("duplex", "Topic prefix: topics are <prefix>/<site_id>/...")
    site_id: str = setting("default", "This device's site id.")
    username: str | None = setting(None, "Broker user name; null = anonymous.")
    password: str | None = setting(None, "Broker password.")
    tls: bool = setting(False, "Use TLS.")
    tls_ca_certs: str | None = setting(None, "CA certificate file for TLS; null = the system's trusted CAs.")
    client_id: str | None = setting(None, "MQTT client id; null = duplex-agent-<site_id> (fixed, so the broker keeps "
                                    "the session and queued QoS 1 commands across reconnects).")
    keepalive_s: int = setting(30, "MQTT keep-alive interval, s.", min=5, max=3600)
    reconnect_backoff_s: tuple[float, ...] = setting(
        (0.5, 1.0, 2.0, 5.0, 10.0), "Waits (s) between reconnection attempts; the last repeats.")
    max_payload_bytes: int = setting(65536, "Largest payload accepted on a command topic, bytes.", min=256, max=16_777_216)
    outbox_max: int = setting(
        1000, "Messages kept for publishing while disconnected; beyond this the oldest are dropped (and counted).",
        min=10, max=1_000_000)
    command_queue_max: int = setting(
        100, "Commands waiting to be carried out (in order); beyond this a command is refused with an error event.",
        min=1, max=100_000)
    health_interval_s: float = setting(10.0, "Interval of the health message, s.", min=0.5, max=3600)
    hermes: bool = setting(True, "Speak the Hermes protocol (Rhasspy) next to the project's own topics.")
    ha_discovery: bool = setting(False, "Announce the agent to Home Assistant by MQTT discovery.")
    ha_prefix: str = setting("homeassistant", "Home Assistant discovery prefix.")

    def validate(self) -> None:
        for name in ("prefix", "site_id"):
            value = getattr(self, name)
            if not value or any(c in value for c in "/+#"):
                raise ConfigError(f"{name}: {value!r} must be non-empty and contain no '/', '+' or '#'")
        if not self.reconnect_backoff_s or any(v < 0 for v in self.reconnect_backoff_s):
            raise ConfigError("reconnect_backoff_s: needs at least one non-negative wait")


@dataclass(frozen=True)
class AgentConfig:
    """The whole configuration of ``python -m agent``."""

    audio: AudioConfig = section(AudioConfig, "Audio I/O.")
    room: RoomConfig = section(RoomConfig, "Simulated room.")
    aec: AecConfig = section(AecConfig, "Echo chain.")
    vad: VadConfig = section(VadConfig, "Semantic VAD and barge-in policy.")
    asr: AsrConfig = section(AsrConfig, "Streaming ASR.")
    tts: TtsConfig = section(TtsConfig, "Text-to-speech.")
    agent: TurnConfig = section(TurnConfig, "Agent behaviour.")
    mqtt: MqttConfig = section(MqttConfig, "MQTT bridge.")
