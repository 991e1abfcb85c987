"""Fill a deploy/ template: `python3 deploy/render.py TEMPLATE OUTPUT NAME=value ...`.

Placeholders are `@NAME@`; one left unfilled is an error, so a template and the script that fills
it (scripts/cluster.sh) cannot drift apart silently. An operator fills the same templates by hand."""
import re
import sys
from pathlib import Path


def render(text: str, values: dict[str, str]) -> str:
    missing = sorted(set(re.findall(r"@([A-Z_]+)@", text)) - set(values))
    if missing:
        raise SystemExit(f"render.py: no value for {', '.join(missing)}")
    return re.sub(r"@([A-Z_]+)@", lambda match: values[match.group(1)], text)


if __name__ == "__main__":
    template, output, *pairs = sys.argv[1:]
    values = dict(pair.split("=", 1) for pair in pairs)
    Path(output).write_text(render(Path(template).read_text(), values))
