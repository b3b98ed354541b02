"""Sub-commands of ``python -m agent``: one module each, exposing ``add_parser(subparsers)``."""
