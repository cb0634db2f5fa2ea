#!/usr/bin/env python3
"""Offline checks of the container files (no Docker engine and no base images here).

- compose.yaml parses (PyYAML), has taskbridge, postgres, redis and an ollama behind a
  profile, each with a health check; every volume a service mounts is a named volume
  declared at the top; depends_on waits only on services that have health checks; every
  TASKBRIDGE_* variable it sets exists in src/config.rs (or is an OAuth one); the port it
  publishes is the one taskbridge listens on and the Dockerfile exposes.
- With Debian's docker-compose (or the compose plugin) on the machine, `config` validates
  the file against the Compose schema too.
- The Dockerfile is multi-stage; the build stage uses the project's toolchain (Cargo.toml's
  rust-version, the machine's rustc) and runs the same cargo build command as
  scripts/build_deb.sh; it copies every file of the repository the release binary was
  built from (the dep-info cargo wrote next to it); the runtime stage runs as a non-root
  user, exposes the port and takes only files from the build stage.

Exits non-zero with a message on the first problem.
"""

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("container_check: PyYAML is missing (pip install pyyaml, or apt-get install python3-yaml)")

OAUTH = re.compile(
    r"^TASKBRIDGE_OAUTH_(SLACK|DISCORD|TEAMS|ATLASSIAN|ZENDESK)_"
    r"(CLIENT_ID|CLIENT_SECRET|AUTHORIZE_URL|TOKEN_URL|REVOKE_URL|SCOPES)$"
)


def some(paths: list[str]) -> str:
    paths = sorted(paths)
    return ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")


def fail(message: str) -> None:
    sys.exit(f"container_check: FAILED: {message}")


def config_variables() -> set[str]:
    text = (ROOT / "src/config.rs").read_text()
    names = set(re.findall(r'env = "(TASKBRIDGE_[A-Z0-9_]+)"', text))
    if len(names) < 20:
        fail(f"found only {len(names)} variables in src/config.rs: has its form changed?")
    oauth = (ROOT / "src/oauth/providers.rs").read_text()
    names |= set(re.findall(r'"(TASKBRIDGE_OAUTH_[A-Z0-9_]+)"', oauth))
    return names


def check_compose(variables: set[str]) -> str:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose.get("services") or {}
    for name in ("taskbridge", "postgres", "redis", "ollama"):
        if name not in services:
            fail(f"compose.yaml has no {name} service")
    if "ollama" not in (services["ollama"].get("profiles") or []):
        fail("the ollama service is not behind the ollama profile")
    declared = set((compose.get("volumes") or {}).keys())
    for name, service in services.items():
        test = (service.get("healthcheck") or {}).get("test")
        if not test or test == ["NONE"]:
            fail(f"service {name} has no health check")
        mounts = service.get("volumes") or []
        if not mounts:
            fail(f"service {name} keeps no data in a volume")
        for mount in mounts:
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source")
            if source not in declared:
                fail(f"service {name} mounts {source!r}, which is not a declared named volume")
        for dep, how in (service.get("depends_on") or {}).items():
            if dep not in services:
                fail(f"service {name} depends on unknown service {dep}")
            if how.get("condition") == "service_healthy" and "healthcheck" not in services[dep]:
                fail(f"service {name} waits for {dep} to be healthy, but {dep} has no health check")
            if "profiles" in services[dep] and "profiles" not in service:
                fail(f"service {name} depends on {dep}, which only runs with a profile")
    tb = services["taskbridge"]
    env = tb.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    unknown = sorted(k for k in env if k not in variables and not OAUTH.match(k))
    if unknown:
        fail(f"compose.yaml sets variables taskbridge does not read: {', '.join(unknown)}")
    # An unset variable with an empty default is still set, to "": the service reads it, and
    # refuses an empty admin key.
    empty = sorted(k for k, v in env.items() if re.fullmatch(r"\$\{\w+:?-\}", str(v)) or v in ("", None))
    if empty:
        fail(f"compose.yaml sets {', '.join(empty)} to an empty value when unset; leave it out or require it (:?)")
    if not str(env.get("TASKBRIDGE_DATABASE_URL", "")).startswith("postgres://"):
        fail("taskbridge in compose.yaml does not use the PostgreSQL service")
    if "redis://redis:" not in str(env.get("TASKBRIDGE_REDIS_URL", "")):
        fail("taskbridge in compose.yaml does not use the Redis service")
    port = str(env.get("TASKBRIDGE_ADDR", "")).rsplit(":", 1)[-1]
    published = [str(p).rsplit(":", 1)[-1] for p in tb.get("ports") or []]
    if port not in published:
        fail(f"taskbridge listens on {port} but compose.yaml publishes {published}")
    if (tb.get("build") or {}) not in (".", {"context": "."}):
        fail("taskbridge in compose.yaml is not built from this repository's Dockerfile")
    return port


def validate_with_compose() -> None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    else:
        print("container_check: no docker compose client here; compose.yaml checked by PyYAML only")
        return
    env = dict(os.environ, TASKBRIDGE_API_KEY="container-check-0123456789", POSTGRES_PASSWORD="container-check")
    run = subprocess.run(
        [*command, "-f", str(ROOT / "compose.yaml"), "--profile", "ollama", "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if run.returncode != 0:
        fail(f"{' '.join(command)} config: {run.stderr.strip() or run.stdout.strip()}")
    print(f"container_check: {' '.join(command)} config accepts compose.yaml")


def dockerfile_instructions() -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, rest = current.partition(" ")
        lines.append((keyword.upper(), rest.strip()))
        current = ""
    return lines


def cargo_build_command(text: str, where: str) -> str:
    found = re.findall(r"cargo build(?:\s+--?[\w-]+(?:[ =][\w.][\w.-]*)?)*", text)
    commands = {" ".join(c.split()) for c in found}
    if len(commands) != 1:
        fail(f"expected one cargo build command in {where}, found {sorted(commands) or 'none'}")
    return commands.pop()


def check_dockerfile(port: str) -> None:
    instructions = dockerfile_instructions()
    args = {}
    stages: list[dict] = []
    for keyword, rest in instructions:
        if keyword == "ARG" and not stages:
            name, _, value = rest.partition("=")
            args[name] = value
        elif keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), rest.split()[0])
            alias = rest.split()[2] if len(rest.split()) > 2 and rest.split()[1].upper() == "AS" else None
            stages.append({"image": image, "alias": alias, "body": []})
        elif stages:
            stages[-1]["body"].append((keyword, rest))
    if len(stages) < 2:
        fail("the Dockerfile is not multi-stage")
    build, runtime = stages[0], stages[-1]

    wanted = re.search(r'^rust-version = "([\d.]+)"', (ROOT / "Cargo.toml").read_text(), re.M)
    if not wanted:
        fail("Cargo.toml has no rust-version")
    match = re.match(r"(?:docker\.io/library/)?rust:([\d.]+)-", build["image"])
    if not match or match.group(1) != wanted.group(1):
        fail(f"the build stage uses {build['image']}, not Rust {wanted.group(1)} (Cargo.toml's rust-version)")
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.split()
    if len(rustc) > 1 and not rustc[1].startswith(wanted.group(1) + "."):
        fail(f"this machine's rustc is {rustc[1]}, the Dockerfile's Rust {wanted.group(1)}")

    runs = " ".join(rest for keyword, rest in build["body"] if keyword == "RUN")
    docker_build = cargo_build_command(runs, "the Dockerfile's build stage")
    deb_build = cargo_build_command((ROOT / "scripts/build_deb.sh").read_text(), "scripts/build_deb.sh")
    if docker_build != deb_build:
        fail(f"the Dockerfile runs `{docker_build}`, the package `{deb_build}`")
    if "--locked" not in docker_build.split() or "--release" not in docker_build.split():
        fail(f"`{docker_build}` is not a --release --locked build")

    copied = []
    for keyword, rest in build["body"]:
        if keyword == "COPY" and "--from" not in rest:
            parts = [p for p in shlex.split(rest) if not p.startswith("--")]
            copied += [p.rstrip("/") for p in parts[:-1]]
    check_context(copied)

    user = next((rest for keyword, rest in reversed(runtime["body"]) if keyword == "USER"), None)
    if user is None or user.split(":")[0] in ("0", "root"):
        fail(f"the runtime stage runs as {user or 'root'}")
    exposed = [rest.split("/")[0] for keyword, rest in runtime["body"] if keyword == "EXPOSE"]
    if port not in exposed:
        fail(f"the Dockerfile exposes {exposed}, compose.yaml uses {port}")
    for keyword, rest in runtime["body"]:
        if keyword in ("COPY", "ADD") and f"--from={build['alias']}" not in rest:
            fail(f"the runtime stage takes files from elsewhere than the build stage: {keyword} {rest}")
        if keyword == "RUN":
            fail("the runtime stage runs commands (it has no shell)")
    print(f"container_check: Dockerfile: {build['image']} builds with `{docker_build}`, {runtime['image']} runs it as {user}")


def check_context(copied: list[str]) -> None:
    """Every repository file the release binary was built from is inside a COPY."""
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    depinfo = target / "release" / "taskbridge.d"
    if not depinfo.exists():
        print(f"container_check: {depinfo} is missing (no release build): build context not checked")
        return
    _, _, deps = depinfo.read_text().partition(": ")
    sources = [Path(p.replace("\\ ", " ")) for p in re.split(r"(?<!\\)\s+", deps.strip()) if p]
    # Absolute paths, from the checkout that last built it.
    ours = [p.relative_to(ROOT).as_posix() for p in sources if p.is_relative_to(ROOT)]
    if not ours:
        fail(f"{depinfo} names no file of {ROOT}: run scripts/build_deb.sh here first")
    missing = [p for p in ours if not any(p == c or p.startswith(c + "/") for c in copied)]
    if missing:
        fail(f"the Dockerfile does not copy {some(missing)}, which the binary is built from")
    ignored = (ROOT / ".dockerignore").read_text().split()
    hidden = [p for p in ours if any(fnmatch.fnmatch(p, i) or p.startswith(i.rstrip("/") + "/") for i in ignored)]
    if hidden:
        fail(f".dockerignore leaves out {some(hidden)}, which the binary is built from")
    print(f"container_check: the build stage copies all {len(ours)} repository files the binary is built from")


def main() -> None:
    variables = config_variables()
    port = check_compose(variables)
    print("container_check: compose.yaml parses; 4 services with health checks and named volumes; variables exist")
    validate_with_compose()
    check_dockerfile(port)


if __name__ == "__main__":
    main()
