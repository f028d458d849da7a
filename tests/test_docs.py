"""The README and docs/: every relative link and image resolves, and the README stays one screenful of
welcome (under 16 KB) with its quick start first."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _pages():
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_relative_link_and_image_resolves():
    broken = []
    for page in _pages():
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_readme_is_short_and_starts_with_what_it_is_and_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode()) < 16_000
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads[:3] == ["## Quick start", "## What is implemented", "## Headline results"]
    quick = text.split("## Quick start", 1)[1].split("## ", 1)[0]
    commands = quick.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(commands) == 2 and "gankit train" in commands[0] and "pytest" in commands[1]
    assert "![" in text.split("## Quick start", 1)[0]  # one picture before it
