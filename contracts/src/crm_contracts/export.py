"""Writes the JSON Schema of every event to contracts/schemas/ (outside publishers use these files).

uv run crm-export-schemas            # rewrite the files
uv run crm-export-schemas --check    # exit 1 if the committed files drift from the models
"""

import argparse
import json
import sys
from pathlib import Path

from crm_contracts.registry import EVENTS_BY_TAG

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def rendered_schemas() -> dict[str, str]:
    return {
        f"{tag}.json": json.dumps(
            cls.model_json_schema(mode="validation"), indent=2, sort_keys=True
        )
        + "\n"
        for tag, cls in EVENTS_BY_TAG.items()
    }


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    expected = rendered_schemas()
    present = {path.name for path in directory.glob("*.json")}
    problems = [f"{name}: missing" for name in sorted(set(expected) - present)]
    problems += [f"{name}: no such event" for name in sorted(present - set(expected))]
    problems += [
        f"{name}: differs from the model"
        for name, text in sorted(expected.items())
        if name in present and (directory / name).read_text() != text
    ]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        problems = drift()
        for problem in problems:
            print(problem, file=sys.stderr)
        sys.exit(1 if problems else 0)
    SCHEMA_DIR.mkdir(exist_ok=True)
    for stale in SCHEMA_DIR.glob("*.json"):
        stale.unlink()
    for name, text in rendered_schemas().items():
        (SCHEMA_DIR / name).write_text(text)
    print(f"wrote {len(EVENTS_BY_TAG)} schemas to {SCHEMA_DIR}")


if __name__ == "__main__":
    main()
