"""``python -m agent devices``: list the sound card's input and output devices, or say there are none."""

from __future__ import annotations

import argparse
import json

from audio_io.device import NO_DEVICE_HINT, list_devices


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list audio input/output devices (or explain that none exist)",
                       description="List the audio devices PortAudio sees; with none, explain the simulated-room fallback.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    devices = list_devices()
    if args.json:
        print(json.dumps({"devices": [d.__dict__ for d in devices], "duplex": bool(devices)}, indent=2))
        return 0
    if not devices:
        print(f"No audio devices: {NO_DEVICE_HINT}")
        print("`python -m agent` will run in the simulated room on this machine.")
        return 0
    print(f"{'#':>3}  {'in':>3} {'out':>3}  {'rate':>7}  name")
    for d in devices:
        mark = ("<" if d.is_default_input else " ") + (">" if d.is_default_output else " ")
        print(f"{d.index:>3}{mark}{d.max_input_channels:>3} {d.max_output_channels:>3}  {d.default_samplerate:>7.0f}  {d.name}")
    print("< default input, > default output. Choose others with --set audio.input_device=N (or a name).")
    return 0
