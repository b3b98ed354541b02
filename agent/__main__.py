"""``python -m agent``: the command line of the full-duplex voice assistant.

Without a sub-command it runs the conversation (``run``): on the sound card when there is one, else in
the simulated room with a scripted user, saying which.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from agent.commands import aec, bench, config_cmd, devices, room, run, say, simulate, transcribe, vad
from agent.config import ConfigError, load_config

SUBCOMMANDS = (run, simulate, bench, devices, room, aec, vad, transcribe, say, config_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agent",
        description="Full-duplex voice assistant: Bangla TTS, echo cancellation, barge-in, ASR, MQTT.",
        epilog="Configuration: configs/agent.yaml; every key is listed by `python -m agent config --docs`.",
    )
    parser.add_argument("--config", metavar="PATH", help="config file (default: configs/agent.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set room.rt60_s=0.6 (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    run.add_arguments(parser)
    # The same options after the sub-command (python -m agent room --out X --set room.rt60_s=0.6).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", dest="sub_config", metavar="PATH", help="config file (default: configs/agent.yaml)")
    common.add_argument("--set", dest="sub_overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_with_parents(common))
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def _with_parents(common: argparse.ArgumentParser) -> type[argparse.ArgumentParser]:
    class SubParser(argparse.ArgumentParser):
        def __init__(self, **kwargs):
            kwargs.setdefault("parents", [common])
            super().__init__(**kwargs)

    return SubParser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        path = getattr(args, "sub_config", None) or args.config
        args.config = load_config(path, [*args.overrides, *getattr(args, "sub_overrides", [])])
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    if args.command is None:
        args.func = run.run
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        # Expected failures (bad files, bad arguments, missing tools) get one clear line, not a traceback.
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
