"""Placeholder until the CLI lands."""


def main() -> None:  # pragma: no cover
    raise SystemExit("libcli CLI is being built")
