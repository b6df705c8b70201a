#!/usr/bin/env python3
"""Checks local/compose.yaml without a Docker engine.

1. Variable substitution as docker compose does it (`$$`, `${VAR}`, `${VAR:-default}`,
   `${VAR:?message}`, ...): every `$` is well-formed, HOST_IP is the only variable, and leaving it
   unset is an error rather than an empty address.
2. The result against infra/compose/schema.json, our own schema of the keys the file uses (a
   misspelt key fails instead of being silently ignored).
3. What the file refers to: build context and Dockerfile, bind-mounted files, named volumes,
   depends_on targets.
4. That the pieces fit: every APPRTC_* variable is a real apprtc-local setting (local/src/cli.rs),
   the published ports are the image's (local/Dockerfile), the Dockerfile's build step is the one
   .ci/test.sh runs, the TURN and STUN URLs name HOST_IP and coturn's port over UDP and TCP, the
   relay port range published is the one coturn is told to use, and both servers read the secret
   the one-shot service writes, from the same volume. The `docker build` and `docker run` lines of
   docs/containers.md use the same Dockerfile, tag, ports, settings and state volume.
5. The three shell commands, run here with /bin/sh against a temporary directory and stand-in
   programs: the secret is generated once and kept, coturn gets it as --static-auth-secret, and
   apprtc-local gets it as APPRTC_TURN_SECRET.
6. When coturn is installed (Debian's coturn package; the test command installs it), the mounted
   turnserver.conf in a real turnserver on 127.0.0.1: a TURN Allocate with a credential minted as
   apprtc-local mints it succeeds; an expired one and one signed with another secret fail. Fails
   when APPRTC_REQUIRE_COTURN is set and turnserver is missing.
7. When a compose implementation is installed (`docker compose`, or `docker-compose` from Debian's
   package of that name), its own `config` check as well; without one this step is skipped, or
   fails when APPRTC_REQUIRE_COMPOSE is set. No Docker engine is needed either way.

Usage: python3 infra/compose/check.py [compose file]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shlex
import socket
import struct
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "infra" / "compose" / "schema.json"
CONFIG_RS = ROOT / "local" / "src" / "cli.rs"
TEST_SH = ROOT / ".ci" / "test.sh"
CONTAINERS_MD = ROOT / "docs" / "containers.md"

# The documented example address (RFC 5737 documentation range).
SAMPLE_HOST_IP = "203.0.113.10"
ALLOWED_VARIABLES = {"HOST_IP"}
SECRET_FILE = "/run/apprtc-turn/secret"
GENERATOR, TURN, APP = "turn-secret", "coturn", "apprtc"
TURN_CONFIG_IN_CONTAINER = "/etc/coturn/turnserver.conf"

NAME = r"[A-Za-z_][A-Za-z0-9_]*"


class TemplateError(Exception):
    pass


def interpolate(text: str, env: dict[str, str], used: set[str], where: str) -> str:
    """Compose's variable substitution for one string value."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        rest = text[i + 1 :]
        if rest.startswith("$"):
            out.append("$")
            i += 2
            continue
        if rest.startswith("{"):
            end = text.find("}", i + 2)
            if end < 0:
                raise TemplateError(f"{where}: '${{' without a closing '}}'")
            body = text[i + 2 : end]
            m = re.fullmatch(rf"({NAME})(?:(:-|-|:\?|\?|:\+|\+)(.*))?", body, re.S)
            if not m:
                raise TemplateError(f"{where}: '${{{body}}}' is not a valid substitution")
            name, op, arg = m.group(1), m.group(2), m.group(3) or ""
            used.add(name)
            value = env.get(name)
            if op is None:
                # Compose substitutes an empty string (with a warning); the caller decides.
                if value is None:
                    used.add(f"unset:{name}")
                out.append(value or "")
            elif op in (":-", "-"):
                out.append(value if value is not None and (value or op == "-") else arg)
            elif op in (":?", "?"):
                if value is None or (op == ":?" and not value):
                    raise TemplateError(f"{where}: {name}: {arg}")
                out.append(value)
            else:  # ":+" or "+"
                out.append(arg if value is not None and (value or op == "+") else "")
            i = end + 1
            continue
        m = re.match(NAME, rest)
        if not m:
            raise TemplateError(f"{where}: a '$' that is neither '$$' nor a variable")
        used.add(m.group(0))
        if m.group(0) not in env:
            used.add(f"unset:{m.group(0)}")
        out.append(env.get(m.group(0), ""))
        i += 1 + len(m.group(0))
    return "".join(out)


def substitute(node, env: dict[str, str], used: set[str], where: str = ""):
    if isinstance(node, dict):
        return {k: substitute(v, env, used, f"{where}.{k}" if where else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, env, used, f"{where}[{n}]") for n, v in enumerate(node)]
    if isinstance(node, str):
        return interpolate(node, env, used, where)
    return node


def as_list(v) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def shell_of(service: dict) -> str | None:
    """The script of a service run as `/bin/sh -c <script>`, or None."""
    entry = as_list(service.get("entrypoint"))
    cmd = as_list(service.get("command"))
    if entry == ["/bin/sh", "-c"] and len(cmd) == 1:
        return cmd[0]
    return None


def config_env_names() -> set[str]:
    return set(re.findall(r'env\s*=\s*"([A-Z0-9_]+)"', CONFIG_RS.read_text()))


def dockerfile_facts(path: Path) -> dict:
    text = path.read_text()
    # Join continuation lines so each instruction is one line.
    joined = re.sub(r"\\\n\s*", " ", text)
    facts = {"expose": set(), "env": {}, "run": [], "entrypoint": None}
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("EXPOSE "):
            facts["expose"] |= set(line.split()[1:])
        elif line.startswith("ENV "):
            for k, v in re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", line):
                facts["env"][k] = v
        elif line.startswith("RUN "):
            facts["run"].append(line[4:].strip())
        elif line.startswith("ENTRYPOINT "):
            facts["entrypoint"] = json.loads(line[len("ENTRYPOINT ") :])
    return facts


def split_port(spec: str) -> tuple[str, str, str]:
    """'49160-49199:49160-49199/udp' -> ('49160-49199', '49160-49199', 'udp')."""
    proto = "tcp"
    if "/" in spec:
        spec, proto = spec.rsplit("/", 1)
    parts = spec.split(":")
    return parts[-2], parts[-1], proto


def option(script: str, name: str) -> str | None:
    m = re.search(rf"(?:^|\s)--{re.escape(name)}=(\S+)", script)
    return m.group(1) if m else None


# ---- a minimal TURN client (RFC 5766 Allocate over UDP with long-term credentials) ----------

MAGIC = 0x2112A442


def stun_message(kind: int, txid: bytes, attrs: list[tuple[int, bytes]], integrity_key: bytes | None = None) -> bytes:
    body = b""
    for t, v in attrs:
        body += struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)
    if integrity_key is not None:
        # MESSAGE-INTEGRITY covers the header with a length that already counts it (24 bytes).
        head = struct.pack("!HHI", kind, len(body) + 24, MAGIC) + txid
        mac = hmac.new(integrity_key, head + body, hashlib.sha1).digest()
        body += struct.pack("!HH", 0x0008, 20) + mac
    return struct.pack("!HHI", kind, len(body), MAGIC) + txid + body


def stun_parse(data: bytes) -> tuple[int, dict[int, bytes]]:
    kind, length, _ = struct.unpack("!HHI", data[:8])
    attrs: dict[int, bytes] = {}
    i = 20
    while i + 4 <= 20 + length:
        t, n = struct.unpack("!HH", data[i : i + 4])
        attrs.setdefault(t, data[i + 4 : i + 4 + n])
        i += 4 + n + (-n % 4)
    return kind, attrs


def turn_allocate(port: int, username: str, password: str) -> str:
    """'ok' if a TURN server on 127.0.0.1:port grants an allocation, else its error code."""
    transport = [(0x0019, bytes([17, 0, 0, 0]))]  # REQUESTED-TRANSPORT: UDP
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)

        def ask(msg: bytes) -> tuple[int, dict[int, bytes]]:
            sock.sendto(msg, ("127.0.0.1", port))
            return stun_parse(sock.recv(2048))

        kind, attrs = ask(stun_message(0x0003, os.urandom(12), transport))
        if kind != 0x0113 or 0x0014 not in attrs or 0x0015 not in attrs:
            return f"unexpected first answer 0x{kind:04x}"
        realm, nonce = attrs[0x0014], attrs[0x0015]
        key = hashlib.md5(username.encode() + b":" + realm + b":" + password.encode()).digest()
        auth = [(0x0006, username.encode()), (0x0014, realm), (0x0015, nonce)]
        kind, attrs = ask(stun_message(0x0003, os.urandom(12), transport + auth, key))
        if kind == 0x0103:
            return "ok"
        err = attrs.get(0x0009, b"\0\0\0\0")
        return str(err[2] * 100 + err[3]) if len(err) >= 4 else f"0x{kind:04x}"


def rest_credential(secret: str, username: str) -> str:
    """The TURN REST API password, as apprtc-local mints it."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def free_udp_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


class Checker:
    def __init__(self, compose: Path):
        self.compose = compose
        self.base = compose.parent
        self.problems: list[str] = []

    def fail(self, msg: str) -> None:
        self.problems.append(msg)

    def expect(self, ok: bool, msg: str) -> None:
        if not ok:
            self.fail(msg)

    def run(self) -> int:
        raw = yaml.safe_load(self.compose.read_text())
        self.expect(isinstance(raw, dict), "the file is not a mapping")
        if not isinstance(raw, dict):
            return self.report()
        # 1. Substitution.
        used: set[str] = set()
        try:
            doc = substitute(raw, {"HOST_IP": SAMPLE_HOST_IP}, used)
        except TemplateError as e:
            self.fail(f"substitution: {e}")
            return self.report()
        unset = sorted(u.split(":", 1)[1] for u in used if u.startswith("unset:"))
        names = {u for u in used if not u.startswith("unset:")}
        self.expect(not unset, f"variables without a value or default: {unset}")
        self.expect(names <= ALLOWED_VARIABLES, f"variables other than HOST_IP: {sorted(names - ALLOWED_VARIABLES)}")
        try:
            substitute(raw, {}, set())
            self.fail("HOST_IP unset is accepted: use ${HOST_IP:?...} so compose refuses to start")
        except TemplateError as e:
            self.expect("HOST_IP" in str(e), f"without HOST_IP: {e}")
        # 2. Schema.
        schema = json.loads(SCHEMA.read_text())
        for err in sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str):
            where = "/".join(str(p) for p in err.absolute_path) or "(top)"
            self.fail(f"schema: {where}: {err.message}")
        if self.problems:
            return self.report()
        services: dict = doc["services"]
        for name in (GENERATOR, TURN, APP):
            self.expect(name in services, f"service '{name}' is missing")
        if self.problems:
            return self.report()
        # 3. References.
        self.check_references(doc)
        # 4. Consistency.
        self.check_app(services[APP])
        self.check_documented_docker_commands(services[APP])
        self.check_ice(services)
        self.check_secret(services)
        # 5. The shell commands themselves.
        self.run_commands(services)
        # 6. The coturn configuration in a real coturn, if one is installed.
        self.check_turnserver(services)
        # 7. A compose implementation, if one is installed.
        self.compose_config()
        return self.report()

    def check_references(self, doc: dict) -> None:
        services = doc["services"]
        declared = set((doc.get("volumes") or {}).keys())
        named_used: set[str] = set()
        for name, svc in services.items():
            build = svc.get("build")
            if build:
                ctx = (self.base / build["context"]).resolve()
                self.expect(ctx.is_dir(), f"{name}: build context {ctx} does not exist")
                dockerfile = ctx / build.get("dockerfile", "Dockerfile")
                self.expect(dockerfile.is_file(), f"{name}: Dockerfile {dockerfile} does not exist")
            for vol in svc.get("volumes", []):
                source = vol.split(":")[0]
                if source.startswith((".", "/")):
                    path = (self.base / source).resolve()
                    self.expect(path.exists(), f"{name}: bind mount {source} ({path}) does not exist")
                else:
                    named_used.add(source)
                    self.expect(source in declared, f"{name}: volume '{source}' is not declared under volumes")
            for dep in svc.get("depends_on", {}):
                self.expect(dep in services and dep != name, f"{name}: depends on unknown service '{dep}'")
        self.expect(declared <= named_used, f"declared volumes never mounted: {sorted(declared - named_used)}")

    def check_app(self, app: dict) -> None:
        build = app["build"]
        dockerfile = (self.base / build["context"] / build.get("dockerfile", "Dockerfile")).resolve()
        facts = dockerfile_facts(dockerfile)
        known = config_env_names()
        self.expect(len(known) > 20, f"could not read the settings' variable names from {CONFIG_RS}")
        script = shell_of(app) or ""
        exported = set(re.findall(r"\b(APPRTC_[A-Z0-9_]+)=", script))
        for var in sorted(set(app.get("environment", {})) | exported | set(facts["env"])):
            if var.startswith("APPRTC_") or var in ("TABLE_NAME",):
                self.expect(var in known, f"{var} is not a setting of apprtc-local ({CONFIG_RS.name})")
        # Ports: what is published is what the image serves.
        published = {split_port(p)[1] for p in app.get("ports", [])}
        exposed = {p.split("/")[0] for p in facts["expose"]}
        self.expect(published == exposed, f"{APP}: publishes {sorted(published)}, the image exposes {sorted(exposed)}")
        listen = facts["env"].get("APPRTC_LISTEN", "")
        self.expect(listen.rsplit(":", 1)[-1] in published, f"{APP}: APPRTC_LISTEN {listen} is not published")
        relay = facts["env"].get("APPRTC_RELAY_PORT", "")
        self.expect(relay in published, f"{APP}: APPRTC_RELAY_PORT {relay} is not published")
        # The image's build step is the one CI runs.
        builds = [r for r in facts["run"] if r.startswith("cargo build")]
        self.expect(len(builds) == 1, f"{dockerfile}: expected one 'RUN cargo build' step, found {builds}")
        ci = re.sub(r"\\\n\s*", " ", TEST_SH.read_text())
        for b in builds:
            self.expect(b in ci, f"the image's build step '{b}' is not what {TEST_SH.relative_to(ROOT)} runs")
        # The wrapper starts the image's own program.
        entry = (facts["entrypoint"] or [None])[0]
        self.expect(entry is not None and f"exec {entry}" in script, f"{APP}: the command does not exec the image's entrypoint {entry}")
        self.expect(app.get("image") == "apprtc-local", f"{APP}: image name should be apprtc-local (the README's docker build tag)")

    def check_documented_docker_commands(self, app: dict) -> None:
        """The `docker build` and `docker run` lines of docs/containers.md fit the image."""
        text = CONTAINERS_MD.read_text() if CONTAINERS_MD.exists() else ""
        facts = dockerfile_facts((self.base / app["build"]["context"] / app["build"]["dockerfile"]).resolve())
        known = config_env_names()
        seen = set()
        for line in text.splitlines():
            if not line.startswith(("docker build ", "docker run ")):
                continue
            words = shlex.split(re.sub(r"<[^>]*>", "X", line))
            verb, args = words[1], words[2:]
            seen.add(verb)
            flags = [(args[i], args[i + 1]) for i in range(len(args) - 1) if args[i].startswith("-")]
            where = f"{CONTAINERS_MD.relative_to(ROOT)}: docker {verb}"
            if verb == "build":
                self.expect(("-f", "local/Dockerfile") in flags, f"{where}: should use -f local/Dockerfile")
                self.expect(("-t", app.get("image")) in flags, f"{where}: tag should be {app.get('image')} (the compose file's image)")
                self.expect(args[-1] == ".", f"{where}: the context should be the repository root (.)")
            else:
                exposed = {p.split("/")[0] for p in facts["expose"]}
                for flag, value in flags:
                    if flag == "-p":
                        self.expect(value.split(":")[-1] in exposed, f"{where}: -p {value} is not a port the image exposes")
                    elif flag == "-e":
                        name = value.split("=", 1)[0]
                        self.expect(name in known, f"{where}: -e {name} is not a setting of apprtc-local")
                    elif flag == "-v":
                        target = value.split(":")[1] if ":" in value else ""
                        self.expect(target == facts["env"].get("APPRTC_STATE_DIR"), f"{where}: -v {value} is not the image's state directory")
                published = {v.split(":")[-1] for f, v in flags if f == "-p"}
                self.expect(published == exposed, f"{where}: publishes {sorted(published)}, the image exposes {sorted(exposed)}")
                self.expect(args[-1] == app.get("image"), f"{where}: runs {args[-1]}, not {app.get('image')}")
        self.expect(seen == {"build", "run"}, f"{CONTAINERS_MD.relative_to(ROOT)}: expected one docker build and one docker run line")

    def check_ice(self, services: dict) -> None:
        env = services[APP].get("environment", {})
        turn_urls = [u for u in str(env.get("APPRTC_TURN_URLS", "")).split(",") if u]
        stun_urls = [u for u in str(env.get("APPRTC_STUN_URLS", "")).split(",") if u]
        self.expect(bool(turn_urls), f"{APP}: APPRTC_TURN_URLS is empty")
        self.expect(str(env.get("APPRTC_HOSTNAMES", "")) == SAMPLE_HOST_IP, f"{APP}: APPRTC_HOSTNAMES should be ${{HOST_IP}} (certificate and QR code)")
        ports: set[str] = set()
        transports: set[str] = set()
        for url in turn_urls:
            m = re.fullmatch(r"turn:([^:?]+):(\d+)\?transport=(udp|tcp)", url)
            if not m:
                self.fail(f"{APP}: TURN URL {url!r} is not turn:<host>:<port>?transport=udp|tcp")
                continue
            self.expect(m.group(1) == SAMPLE_HOST_IP, f"{APP}: TURN URL {url!r} does not use HOST_IP")
            ports.add(m.group(2))
            transports.add(m.group(3))
        for url in stun_urls:
            m = re.fullmatch(r"stun:([^:?]+):(\d+)", url)
            self.expect(bool(m) and m.group(1) == SAMPLE_HOST_IP, f"{APP}: STUN URL {url!r} is not stun:${{HOST_IP}}:<port>")
            if m:
                ports.add(m.group(2))
        self.expect(transports == {"udp", "tcp"}, f"{APP}: TURN URLs should cover udp and tcp, have {sorted(transports)}")
        self.expect(len(ports) == 1, f"{APP}: STUN/TURN URLs use several ports {sorted(ports)}")
        turn = services[TURN]
        published = {(split_port(p)[0], split_port(p)[1], split_port(p)[2]) for p in turn.get("ports", [])}
        conf_path = self.turn_config(turn)
        conf = conf_path.read_text() if conf_path else ""
        listening = re.search(r"^listening-port=(\d+)", conf, re.M)
        for port in ports:
            for proto in ("udp", "tcp"):
                self.expect((port, port, proto) in published, f"{TURN}: {port}/{proto} is not published")
            self.expect(bool(listening) and listening.group(1) == port, f"{TURN}: turnserver.conf listens on {listening.group(1) if listening else '?'}, the URLs say {port}")
        script = shell_of(turn) or ""
        self.expect(script.startswith("exec turnserver "), f"{TURN}: the command should exec turnserver")
        self.expect(f"-c {TURN_CONFIG_IN_CONTAINER}" in script, f"{TURN}: turnserver is not given {TURN_CONFIG_IN_CONTAINER}")
        self.expect(option(script, "external-ip") == SAMPLE_HOST_IP, f"{TURN}: --external-ip should be ${{HOST_IP}}")
        lo, hi = option(script, "min-port"), option(script, "max-port")
        self.expect(lo is not None and hi is not None, f"{TURN}: --min-port and --max-port must be set (the published relay range)")
        if lo and hi:
            rng = f"{lo}-{hi}"
            self.expect((rng, rng, "udp") in published, f"{TURN}: relay ports {rng}/udp are not published one to one")
            self.expect(int(lo) < int(hi), f"{TURN}: empty relay range {rng}")
        for needed in ("use-auth-secret", "rest-api-separator=:"):
            self.expect(re.search(rf"^{re.escape(needed)}\s*$", conf, re.M) is not None, f"{TURN}: turnserver.conf lacks '{needed}'")

    def turn_config(self, turn: dict) -> Path | None:
        for vol in turn.get("volumes", []):
            parts = vol.split(":")
            if parts[1] == TURN_CONFIG_IN_CONTAINER:
                return (self.base / parts[0]).resolve()
        self.fail(f"{TURN}: nothing is mounted at {TURN_CONFIG_IN_CONTAINER}")
        return None

    def check_secret(self, services: dict) -> None:
        folder = os.path.dirname(SECRET_FILE)
        volume = None
        for name in (GENERATOR, TURN, APP):
            mounts = [v.split(":") for v in services[name].get("volumes", [])]
            here = [m[0] for m in mounts if m[1] == folder]
            self.expect(len(here) == 1, f"{name}: the secret folder {folder} is not mounted")
            if here:
                volume = volume or here[0]
                self.expect(here[0] == volume, f"{name}: mounts {here[0]} at {folder}, not {volume}")
            script = shell_of(services[name])
            self.expect(script is not None and SECRET_FILE in script, f"{name}: does not use {SECRET_FILE}")
            if name != GENERATOR:
                dep = services[name].get("depends_on", {}).get(GENERATOR, {})
                self.expect(dep.get("condition") == "service_completed_successfully", f"{name}: must wait for {GENERATOR} to complete")
        self.expect(services[GENERATOR].get("restart") == "no", f"{GENERATOR}: is one-shot and must not restart")

    def run_commands(self, services: dict) -> None:
        sh = shutil.which("sh")
        if not sh:
            self.fail("no /bin/sh to run the commands with")
            return
        with tempfile.TemporaryDirectory(prefix="apprtc-compose-") as tmp:
            tmp_path = Path(tmp)
            secret = tmp_path / "secret"
            stub = tmp_path / "stub"
            stub.write_text('#!/bin/sh\nprintf "arg=%s\\n" "$@"\nprintf "env=%s\\n" "${APPRTC_TURN_SECRET-<unset>}"\n')
            stub.chmod(0o755)

            def script(name: str) -> str:
                s = shell_of(services[name]) or "false"
                return s.replace(SECRET_FILE, str(secret))

            def run(name: str, text: str) -> subprocess.CompletedProcess:
                syntax = subprocess.run([sh, "-n", "-c", text], capture_output=True, text=True)
                self.expect(syntax.returncode == 0, f"{name}: shell syntax: {syntax.stderr.strip()}")
                return subprocess.run([sh, "-c", text], capture_output=True, text=True, timeout=30)

            gen = run(GENERATOR, script(GENERATOR))
            self.expect(gen.returncode == 0, f"{GENERATOR}: failed: {gen.stderr.strip()}")
            first = secret.read_text() if secret.exists() else ""
            self.expect(re.fullmatch(r"[0-9a-f]{64}", first) is not None, f"{GENERATOR}: wrote {first!r}, expected 64 hex digits")
            again = run(GENERATOR, script(GENERATOR))
            self.expect(again.returncode == 0 and secret.read_text() == first, f"{GENERATOR}: a second start changed the secret")
            self.expect(secret.exists() and (secret.stat().st_mode & 0o444) == 0o444, f"{GENERATOR}: the secret is not readable by the servers' users")
            turn = run(TURN, script(TURN).replace("exec turnserver ", f"exec {stub} ", 1))
            self.expect(f"arg=--static-auth-secret={first}" in turn.stdout.splitlines(), f"{TURN}: turnserver does not get the secret: {turn.stdout!r} {turn.stderr!r}")
            self.expect("arg=--external-ip=" + SAMPLE_HOST_IP in turn.stdout.splitlines(), f"{TURN}: turnserver does not get --external-ip")
            entry = dockerfile_facts((self.base / services[APP]["build"]["context"] / services[APP]["build"]["dockerfile"]).resolve())["entrypoint"][0]
            app = run(APP, script(APP).replace(f"exec {entry}", f"exec {stub}", 1))
            self.expect(f"env={first}" in app.stdout.splitlines(), f"{APP}: apprtc-local does not get APPRTC_TURN_SECRET: {app.stdout!r} {app.stderr!r}")

    def check_turnserver(self, services: dict) -> None:
        """Starts the real coturn with the mounted configuration, on 127.0.0.1, and asks it for
        allocations with credentials minted the way apprtc-local mints them."""
        if not shutil.which("turnserver"):
            self.expect(
                not os.environ.get("APPRTC_REQUIRE_COTURN"),
                "APPRTC_REQUIRE_COTURN is set but turnserver (Debian package coturn) is missing",
            )
            print("compose: turnserver not installed; the coturn configuration was not started")
            return
        conf = self.turn_config(services[TURN])
        if conf is None:
            return
        secret, port = os.urandom(16).hex(), free_udp_port()
        relay_lo = 20000 + int.from_bytes(os.urandom(2), "big") % 40000
        with tempfile.TemporaryDirectory(prefix="apprtc-coturn-") as tmp:
            proc = subprocess.Popen(
                [
                    "turnserver", "-c", str(conf), f"--static-auth-secret={secret}",
                    "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
                    f"--min-port={relay_lo}", f"--max-port={relay_lo + 20}",
                    f"--pidfile={tmp}/turnserver.pid", "--log-file=stdout",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                now = int(time.time())
                fresh = f"{now + 3600}:compose-check"
                expired = f"{now - 60}:compose-check"
                deadline = time.monotonic() + 15
                result = "no answer"
                while time.monotonic() < deadline and proc.poll() is None:
                    try:
                        result = turn_allocate(port, fresh, rest_credential(secret, fresh))
                        break
                    except (OSError, struct.error):
                        time.sleep(0.2)
                self.expect(proc.poll() is None, f"{TURN}: turnserver exited with {conf.relative_to(ROOT)}")
                self.expect(result == "ok", f"{TURN}: a fresh credential got no allocation ({result})")
                if result == "ok":
                    got = turn_allocate(port, expired, rest_credential(secret, expired))
                    self.expect(got != "ok", f"{TURN}: an expired credential got an allocation")
                    got = turn_allocate(port, fresh, rest_credential("another secret", fresh))
                    self.expect(got != "ok", f"{TURN}: a credential signed with another secret got an allocation")
                    print(f"compose: coturn with {conf.relative_to(ROOT)} grants fresh REST credentials, refuses expired and foreign ones")
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def compose_config(self) -> None:
        env = dict(os.environ, HOST_IP=SAMPLE_HOST_IP)
        for cmd in (["docker", "compose"], ["docker-compose"]):
            if not shutil.which(cmd[0]):
                continue
            probe = subprocess.run(cmd + ["version"], capture_output=True, text=True, env=env)
            if probe.returncode != 0:
                continue
            res = subprocess.run(cmd + ["-f", str(self.compose), "config", "--quiet"], capture_output=True, text=True, env=env)
            self.expect(res.returncode == 0, f"{' '.join(cmd)} config: {res.stderr.strip()}")
            print(f"compose: {' '.join(cmd)} config checked the file too")
            return
        self.expect(
            not os.environ.get("APPRTC_REQUIRE_COMPOSE"),
            "APPRTC_REQUIRE_COMPOSE is set but neither `docker compose` nor `docker-compose` is installed",
        )
        print("compose: no compose implementation installed; schema and consistency checks only")

    def report(self) -> int:
        rel = self.compose.relative_to(ROOT) if self.compose.is_relative_to(ROOT) else self.compose
        if self.problems:
            for p in self.problems:
                print(f"{rel}: {p}", file=sys.stderr)
            return 1
        print(f"compose: {rel} is consistent (schema, references, ports, ICE settings, shared secret, commands)")
        return 0


def main() -> int:
    compose = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / "local" / "compose.yaml"
    return Checker(compose).run()


if __name__ == "__main__":
    sys.exit(main())
