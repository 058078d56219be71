#!/usr/bin/env python3
"""Checks that Cargo.toml's rust-version is true for the locked dependencies.

A crate's declared rust-version is only a promise if every crate it builds with (at the
versions Cargo.lock pins) supports that compiler too. This reads `cargo metadata --locked`
and fails, naming the crate, when a locked dependency needs a newer Rust than declared.
Run from the repository root; .ci/run calls it.
"""
import json
import subprocess
import sys
import tomllib


def version(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


with open("Cargo.toml", "rb") as f:
    declared = tomllib.load(f)["package"].get("rust-version")
if not declared:
    sys.exit("msrv: Cargo.toml declares no rust-version")
meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
root = meta["resolve"]["root"]
needs = [
    (p["rust_version"], p["name"], p["version"])
    for p in meta["packages"]
    if p.get("rust_version") and p["id"] != root
]
need, name, ver = max(needs, key=lambda n: version(n[0]))
if version(declared) < version(need):
    sys.exit(
        f"msrv: Cargo.toml says rust-version {declared}, but the locked {name} {ver} "
        f"needs {need}: raise rust-version to {need} (or pin an older {name})"
    )
print(f"msrv: rust-version {declared} covers every locked dependency (the newest need: {name} {ver}, {need})")
