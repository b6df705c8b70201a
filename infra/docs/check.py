#!/usr/bin/env python3
"""Keeps the documentation honest.

Commands: every shell command in a fenced code block (```sh, ```bash, ```shell, ```console) of
README.md and docs/*.md must either appear in what CI runs (.ci/run, .ci/test.sh and every script
they call, followed recursively), or have an entry in infra/docs/commands.txt that names the test
checking it. Entries for commands the documents no longer show are errors too.

Links: every relative link and image in those files must point at a file or folder inside the
repository, and a `#fragment` at a heading of the target Markdown file. README.md may not link
outside the repository at all.

Settings: every environment variable of apprtc-local (local/src/cli.rs) appears in
docs/settings.md, so a new flag cannot go undocumented.

Usage: python3 infra/docs/check.py      (no third-party packages needed)
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOW = ROOT / "infra" / "docs" / "commands.txt"
CI_ENTRY = [ROOT / ".ci" / "run", ROOT / ".ci" / "test.sh"]
SHELL_FENCES = {"sh", "bash", "shell", "console"}


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def normalize(cmd: str) -> str:
    return " ".join(cmd.split())


def strip_comment(line: str) -> str:
    """Drops a trailing `# comment` that is outside quotes and starts a word."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def join_continuations(text: str) -> list[tuple[int, str]]:
    """Lines with backslash-newline joined; each with the number of its first line (from 1)."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for n, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = n
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


@dataclass
class Command:
    text: str
    where: str


def shell_commands(doc: Path) -> list[Command]:
    """The commands of the shell code blocks in one Markdown file."""
    found: list[Command] = []
    lines = doc.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^\s*(```+|~~~+)\s*([\w-]*)", lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2).lower()
        body_start = i + 1
        j = body_start
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        if lang in SHELL_FENCES:
            block = "\n".join(lines[body_start:j])
            for offset, line in join_continuations(block):
                line = line.strip()
                if lang == "console":
                    if not line.startswith("$ "):
                        continue  # output, not a command
                    line = line[2:]
                line = strip_comment(line).strip()
                if line.endswith("&") and not line.endswith("&&"):
                    line = line[:-1].strip()  # started in the background
                if line:
                    found.append(Command(normalize(line), f"{rel(doc)}:{body_start + offset}"))
        i = j + 1
    return found


def ci_scripts() -> dict[Path, str]:
    """CI's entry points and every repository script they name, recursively, normalized."""
    seen: dict[Path, str] = {}
    todo = [p for p in CI_ENTRY if p.exists()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        text = path.read_text()
        seen[path] = normalize(" ".join(line for _, line in join_continuations(text)))
        for token in re.findall(r"[\w./-]+\.(?:sh|py)\b", text):
            candidate = (ROOT / token).resolve()
            if candidate.is_file() and candidate.is_relative_to(ROOT) and candidate not in seen:
                todo.append(candidate)
    return seen


def run_by_ci(cmd: str, scripts: dict[Path, str]) -> Path | None:
    pattern = re.compile(r"(?<![\w./=-])" + re.escape(cmd) + r"(?![\w./-])")
    for path, text in scripts.items():
        if pattern.search(text):
            return path
    return None


@dataclass
class Entry:
    command: str
    line: int
    checked_by: list[str] = field(default_factory=list)


def allow_list(problems: list[str]) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    current: Entry | None = None
    if not ALLOW.exists():
        return entries
    for n, raw in enumerate(ALLOW.read_text().splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace():
            key, _, value = raw.strip().partition(":")
            if current is None:
                problems.append(f"{rel(ALLOW)}:{n}: an indented line before any command")
            elif key == "checked by":
                current.checked_by.append(value.strip())
            elif key != "note":
                problems.append(f"{rel(ALLOW)}:{n}: expected 'checked by:' or 'note:', got {key!r}")
            continue
        current = Entry(normalize(raw), n)
        if current.command in entries:
            problems.append(f"{rel(ALLOW)}:{n}: listed twice: {current.command}")
        entries[current.command] = current
    for e in entries.values():
        if not e.checked_by:
            problems.append(f"{rel(ALLOW)}:{e.line}: no 'checked by:' for {e.command}")
        for ref in e.checked_by:
            path, _, name = ref.partition("::")
            target = ROOT / path.strip()
            if not target.is_file():
                problems.append(f"{rel(ALLOW)}:{e.line}: 'checked by' names a missing file: {path}")
            elif name and not re.search(r"\b" + re.escape(name.strip()) + r"\b", target.read_text()):
                problems.append(f"{rel(ALLOW)}:{e.line}: {path} has no {name.strip()!r}")
    return entries


def check_commands(problems: list[str]) -> int:
    scripts = ci_scripts()
    entries = allow_list(problems)
    shown: set[str] = set()
    count = 0
    for doc in documents():
        for cmd in shell_commands(doc):
            count += 1
            shown.add(cmd.text)
            if cmd.text in entries:
                continue
            if run_by_ci(cmd.text, scripts) is None:
                problems.append(
                    f"{cmd.where}: `{cmd.text}` is neither run by CI nor listed in {rel(ALLOW)} "
                    "with the test that checks it"
                )
    for e in entries.values():
        if e.command not in shown:
            problems.append(f"{rel(ALLOW)}:{e.line}: no document shows this command any more: {e.command}")
        elif run_by_ci(e.command, scripts):
            problems.append(f"{rel(ALLOW)}:{e.line}: CI runs this command as written; drop the entry: {e.command}")
    return count


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def prose_lines(lines: list[str]):
    """Yields (line number, line) for the lines outside fenced code blocks."""
    fence = None
    for n, line in enumerate(lines, 1):
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif line.strip().startswith(fence):
                fence = None
            continue
        if fence is None:
            yield n, line


def anchors(doc: Path) -> set[str]:
    """The anchors of a Markdown file's headings (repeated headings get -1, -2, ...)."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for _, line in prose_lines(doc.read_text().splitlines()):
        h = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if h:
            base = slug(h.group(1))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def check_links(problems: list[str]) -> int:
    count = 0
    for doc in documents():
        for n, line in prose_lines(doc.read_text().splitlines()):
            # Code spans are not links.
            line = re.sub(r"`[^`]*`", lambda s: " " * len(s.group(0)), line)
            targets = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", line)
            targets += re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", line)
            for target in targets:
                count += 1
                where = f"{rel(doc)}:{n}"
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    if doc.name == "README.md" and doc.parent == ROOT:
                        problems.append(f"{where}: {target} points outside the repository")
                    continue
                path, _, fragment = target.partition("#")
                dest = (doc.parent / path).resolve() if path else doc
                if not dest.is_relative_to(ROOT):
                    problems.append(f"{where}: {target} leaves the repository")
                elif not dest.exists():
                    problems.append(f"{where}: {target}: {rel(dest)} does not exist")
                elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
                    problems.append(f"{where}: {target}: no heading #{fragment} in {rel(dest)}")
    return count


def check_settings(problems: list[str]) -> int:
    config = ROOT / "local" / "src" / "cli.rs"
    table = ROOT / "docs" / "settings.md"
    names = re.findall(r'env\s*=\s*"([A-Z0-9_]+)"', config.read_text())
    text = table.read_text() if table.exists() else ""
    for name in names:
        if f"`{name}`" not in text:
            problems.append(f"{rel(table)}: {name} ({rel(config)}) is not documented")
    return len(names)


def main() -> int:
    problems: list[str] = []
    commands = check_commands(problems)
    links = check_links(problems)
    settings = check_settings(problems)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(
        f"docs: {commands} commands run by CI or covered by a named test; {links} links resolve; "
        f"{settings} settings documented"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
