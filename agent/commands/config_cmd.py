"""``python -m agent config``: show the effective configuration, or the reference of every key."""

from __future__ import annotations

import argparse

import yaml

from agent.config import config_docs_markdown, config_template_yaml, to_dict


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print the effective configuration (or --docs: every key documented)",
                       description="Print the configuration after the config file and --set overrides, as YAML.")
    p.add_argument("--docs", action="store_true", help="print the Markdown reference of every key instead")
    p.add_argument("--template", action="store_true",
                   help="print the commented default config (the content of configs/agent.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.template:
        print(config_template_yaml(), end="")
    elif args.docs:
        print(config_docs_markdown(), end="")
    else:
        print(yaml.safe_dump(to_dict(args.config), sort_keys=False, allow_unicode=True), end="")
    return 0
