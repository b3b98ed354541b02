import pytest

from agent.config import (
    DEFAULT_CONFIG,
    REPO_ROOT,
    AgentConfig,
    ConfigError,
    RoomConfig,
    build,
    config_docs_markdown,
    load_config,
    to_dict,
)


def test_defaults_build_and_file_matches_defaults():
    cfg = load_config()
    assert isinstance(cfg, AgentConfig)
    # configs/agent.yaml documents every key with its default value.
    assert to_dict(cfg) == to_dict(AgentConfig())
    assert DEFAULT_CONFIG.exists()


def test_unknown_key_names_the_key_and_suggests():
    with pytest.raises(ConfigError, match=r"unknown key 'aec\.laec\.tailms'.*did you mean 'tail_ms'"):
        load_config(overrides=["aec.laec.tailms=256"])
    with pytest.raises(ConfigError, match="unknown key 'nosuchsection'"):
        build(AgentConfig, {"nosuchsection": {}})


@pytest.mark.parametrize(
    "override, message",
    [
        ("room.volume=loud", r"room\.volume: 'loud' is not a number"),
        ("room.nonlinearity=1", r"room\.nonlinearity: 1 is not a boolean"),
        ("mqtt.port=1883.5", r"mqtt\.port: 1883\.5 is not an integer"),
        ("room.room_dim_m=[5, 4]", r"room\.room_dim_m: .* exactly 3 items"),
        ("audio.backend=speaker", r"audio\.backend: 'speaker' is not allowed; choose one of 'auto', 'device'"),
        ("room.delay_jumps=[{at_s: 1, delay_ms: x}]", r"room\.delay_jumps\[0\]\.delay_ms: 'x' is not a number"),
    ],
)
def test_wrong_type(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


@pytest.mark.parametrize(
    "override, message",
    [
        ("room.rt60_s=3", r"room\.rt60_s: 3\.0 is out of range; allowed \[0\.1, 0\.8\]"),
        ("aec.laec.tail_ms=10", r"aec\.laec\.tail_ms: 10\.0 is out of range; allowed \[40, 1000\]"),
        ("mqtt.port=70000", r"mqtt\.port: 70000 is out of range"),
        ("room.delay_jumps=[{at_s: 1, delay_ms: 900}]", r"delay_ms: 900\.0 is out of range"),
        ("room.mic_pos_m=[9, 1, 1]", r"mic_pos_m: \[9\.0, 1\.0, 1\.0\] is not inside the room"),
        ("mqtt.site_id=a/b", r"site_id: 'a/b' must be non-empty"),
    ],
)
def test_out_of_range(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_overrides_apply_and_parse_yaml_values():
    cfg = load_config(overrides=["aec.laec.tail_ms=300", "room.delay_jumps=[{at_s: 2.5, delay_ms: 120}]",
                                 "audio.input_device=hw:1", "tts.voice=null"])
    assert cfg.aec.laec.tail_ms == 300.0 and isinstance(cfg.aec.laec.tail_ms, float)
    assert cfg.room.delay_jumps[0].at_s == 2.5 and cfg.room.delay_jumps[0].delay_ms == 120.0
    assert cfg.audio.input_device == "hw:1"
    assert cfg.tts.voice is None


def test_config_is_frozen():
    cfg = load_config()
    with pytest.raises(AttributeError):
        cfg.room.rt60_s = 0.2  # type: ignore[misc]


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("room: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(scalar)
    section_scalar = tmp_path / "section.yaml"
    section_scalar.write_text("room: 3\n")
    with pytest.raises(ConfigError, match="room: expected a section"):
        load_config(section_scalar)


def test_override_syntax_errors():
    with pytest.raises(ConfigError, match="must look like section.key=value"):
        load_config(overrides=["room.rt60_s"])
    with pytest.raises(ConfigError, match="is a value, not a section"):
        load_config(overrides=["room.rt60_s.x=1"])


def test_cross_field_validation():
    with pytest.raises(ConfigError, match="delay_jumps: must be sorted"):
        build(RoomConfig, {"delay_jumps": [{"at_s": 5, "delay_ms": 1}, {"at_s": 1, "delay_ms": 2}]})
    with pytest.raises(ConfigError, match="speaker_band_hz: low edge"):
        build(RoomConfig, {"speaker_band_hz": [4000, 300]})
    with pytest.raises(ConfigError, match="backchannel_words: \\['ঠিক আছে'\\] — each entry must be one word"):
        load_config(None, ["agent.backchannel_words=[হুঁ, ঠিক আছে]"])
    with pytest.raises(ConfigError, match="stop_words"):
        load_config(None, ["agent.stop_words=['']"])
    assert load_config(None, ["agent.backchannel_words=[]"]).agent.backchannel_words == ()


def test_docs_file_is_generated_from_schema():
    docs = (REPO_ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert docs == config_docs_markdown(), "docs/config.md is stale: python -m agent config --docs > docs/config.md"
    for key in ("room.rt60_s", "aec.pwf.beta_vad", "mqtt.site_id", "audio.backend"):
        assert f"`{key}`" in docs


def test_exponent_numbers_without_a_dot_are_numbers():
    # YAML 1.1 reads 1e-2 as a string; a float setting takes it as the number it means, a word stays an error
    assert load_config(overrides=["vad.speech_threshold=5e-1"]).vad.speech_threshold == 0.5
    with pytest.raises(ConfigError, match="is not a number"):
        load_config(overrides=["vad.speech_threshold=5e-1x"])
    with pytest.raises(ConfigError, match="is not an integer"):
        load_config(overrides=["mqtt.port=1e3"])
