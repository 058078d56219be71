#!/usr/bin/env python3
"""Writes to stdout a tar of a small Debian root made from THIS host's installed packages,
for `docker import` (no registry): the Essential set, the packages named on the command
line, and everything they depend on, with a dpkg database that lists exactly those.

    tests/package/rootfs.py systemd man-db | docker import - soak-package-test

tests/package.rs installs soak's .deb in a container of this image, so that dpkg -i,
the maintainer scripts and dpkg --purge run on a real Debian root, never on the host.
"""
import io
import os
import re
import subprocess
import sys
import tarfile


def query(fmt, *pkgs):
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", fmt, *pkgs], capture_output=True, text=True, check=False
    ).stdout
    return out


def installed():
    """package -> (essential, depends text); virtual name -> providers."""
    pkgs, provides = {}, {}
    for line in query("${Package}\t${Status}\t${Essential}\t${Pre-Depends}, ${Depends}\t${Provides}\n").splitlines():
        name, status, essential, deps, prov = line.split("\t")
        if not status.endswith(" installed"):
            continue
        pkgs[name] = (essential == "yes", deps)
        for p in prov.split(","):
            p = p.strip().split(" ")[0]
            if p:
                provides.setdefault(p, []).append(name)
    return pkgs, provides


def closure(pkgs, provides, wanted):
    seen, todo = set(), list(wanted)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for dep in pkgs[name][1].split(","):
            # An alternative list (a | b): the first one installed here.
            for alt in dep.split("|"):
                alt = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip().split(":")[0]
                if not alt:
                    continue
                if alt in pkgs:
                    todo.append(alt)
                    break
                if alt in provides:
                    todo.append(provides[alt][0])
                    break
    return seen


def main():
    pkgs, provides = installed()
    missing = [p for p in sys.argv[1:] if p not in pkgs]
    if missing:
        sys.exit(f"rootfs: not installed here: {' '.join(missing)} (apt-get install them)")
    wanted = [p for p, (ess, _) in pkgs.items() if ess] + sys.argv[1:]
    chosen = closure(pkgs, provides, wanted)

    paths = set()
    listing = subprocess.run(
        ["dpkg-query", "-L", *sorted(chosen)], capture_output=True, text=True, check=False
    ).stdout
    for line in listing.splitlines():
        if line.startswith("/") and os.path.lexists(line):
            # Merged /usr: dpkg lists /bin/bash, which is /usr/bin/bash behind the /bin
            # link; the tar holds each file once, at its real place.
            real = os.path.join(os.path.realpath(os.path.dirname(line)), os.path.basename(line))
            paths.add(real if real != "/" else line)
    for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]:
        if os.path.islink(top):
            paths.add(top)
    # Files no package owns that a root needs: the accounts, the linker's cache, the
    # alternatives' links; /etc is small, so all of it.
    for top, dirs, files in os.walk("/etc"):
        for n in dirs + files:
            paths.add(os.path.join(top, n))

    dpkg = "/var/lib/dpkg"
    infos = set()
    for n in os.listdir(f"{dpkg}/info"):
        # info/<package>[:<arch>].<what>; package names may hold dots, <what> does not.
        base = n.rsplit(".", 1)[0].split(":")[0]
        if base in chosen or n == "format":
            infos.add(f"{dpkg}/info/{n}")

    tar = tarfile.open(fileobj=sys.stdout.buffer, mode="w|")
    added = set()

    def add_path(p):
        name = p.lstrip("/")
        if name in added:
            return
        try:
            tar.add(p, arcname=name, recursive=False)
            added.add(name)
        except (PermissionError, FileNotFoundError):
            pass

    def add_dir(path):
        name = path.lstrip("/")
        if name not in added:
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o1777 if name.endswith("tmp") else 0o755
            tar.addfile(ti)
            added.add(name)

    def add_text(path, text):
        data = text.encode()
        ti = tarfile.TarInfo(path.lstrip("/"))
        ti.size, ti.mode = len(data), 0o644
        tar.addfile(ti, io.BytesIO(data))
        added.add(ti.name)

    # Parents before children (sorted), links as links.
    for p in sorted(paths | infos):
        if p.startswith(dpkg + "/") and p not in infos:
            continue
        add_path(p)
    for d in ["/tmp", "/var/tmp", "/run", "/root", "/home", "/proc", "/sys", "/dev",
              "/var/lib/dpkg/updates", "/var/lib/dpkg/triggers", "/var/log", "/var/cache"]:
        add_dir(d)
    # The dpkg database of exactly the chosen packages.
    with open(f"{dpkg}/status") as f:
        stanzas = f.read().split("\n\n")
    keep = [s for s in stanzas if (m := re.match(r"Package: (\S+)", s)) and m.group(1) in chosen]
    add_text(f"{dpkg}/status", "\n\n".join(keep).strip() + "\n\n")
    for n in ["available", "diversions", "statoverride"]:
        add_text(f"{dpkg}/{n}", "")
    # Trigger interests of the chosen packages only (man-db's, so mandb sees soak's pages).
    try:
        with open(f"{dpkg}/triggers/File") as f:
            lines = [l for l in f if l.split()[-1].split(":")[0] in chosen]
        add_text(f"{dpkg}/triggers/File", "".join(lines))
    except FileNotFoundError:
        pass
    tar.close()


main()
