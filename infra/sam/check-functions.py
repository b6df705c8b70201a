#!/usr/bin/env python3
"""Checks that every function in template.yaml is a Cargo package under functions/, built by
infra/sam/Makefile under its own name, and that every package under functions/ is deployed by the
template."""
import pathlib
import sys
import tomllib

from cfnlint.decode import decode

root = pathlib.Path(__file__).resolve().parents[2]
template, errors = decode(str(root / "template.yaml"))
if errors:
    print(errors, file=sys.stderr)
    sys.exit(1)

# SAM builds each function with `make build-<name>` (infra/sam/Makefile), which copies the
# workspace's binary of the same name.
makefile = (root / "infra" / "sam" / "Makefile").read_text()
listed = set()
for line in makefile.splitlines():
    if line.startswith("FUNCTIONS :="):
        listed = set(line.split(":=", 1)[1].split())

in_template = {}
for name, res in template["Resources"].items():
    if res.get("Type") == "AWS::Serverless::Function":
        method = res.get("Metadata", {}).get("BuildMethod")
        in_template[name] = name if method == "makefile" and name in listed else None

packages = {}
for manifest in sorted((root / "functions").glob("*/Cargo.toml")):
    packages[tomllib.loads(manifest.read_text())["package"]["name"]] = manifest.parent.name

problems = []
for name, binary in in_template.items():
    if name not in packages:
        problems.append(f"template function {name} has no package under functions/")
    if binary != name:
        problems.append(f"template function {name} is not built by infra/sam/Makefile (BuildMethod: makefile, listed in FUNCTIONS)")
for name, folder in packages.items():
    if name not in in_template:
        problems.append(f"package {name} (functions/{folder}) is not deployed by template.yaml")
    if folder != name:
        problems.append(f"package {name} lives in functions/{folder}")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"template and packages agree: {', '.join(sorted(in_template))}")
