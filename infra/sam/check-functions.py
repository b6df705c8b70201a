#!/usr/bin/env python3
"""Checks that every function in template.yaml is a Cargo package under functions/ with the same
binary name, and that every package under functions/ is deployed by the template."""
import pathlib
import sys
import tomllib

from cfnlint.decode import decode

root = pathlib.Path(__file__).resolve().parents[2]
template, errors = decode(str(root / "template.yaml"))
if errors:
    print(errors, file=sys.stderr)
    sys.exit(1)

in_template = {}
for name, res in template["Resources"].items():
    if res.get("Type") == "AWS::Serverless::Function":
        binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        in_template[name] = binary

packages = {}
for manifest in sorted((root / "functions").glob("*/Cargo.toml")):
    packages[tomllib.loads(manifest.read_text())["package"]["name"]] = manifest.parent.name

problems = []
for name, binary in in_template.items():
    if name not in packages:
        problems.append(f"template function {name} has no package under functions/")
    if binary != name:
        problems.append(f"template function {name} builds binary {binary!r}, expected {name!r}")
for name, folder in packages.items():
    if name not in in_template:
        problems.append(f"package {name} (functions/{folder}) is not deployed by template.yaml")
    if folder != name:
        problems.append(f"package {name} lives in functions/{folder}")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"template and packages agree: {', '.join(sorted(in_template))}")
