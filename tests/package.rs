//! The Debian package: packaging/build-deb.sh builds it (from the soak these tests run,
//! so no second build), lintian finds no error or warning, and in a container of a
//! Debian root made from this host's own packages (tests/package/rootfs.py, no
//! registry) dpkg installs it, the installed units pass `systemd-analyze verify`, the
//! man pages, completions, user and conffiles are there, a real run as user soak works
//! with a shipped profile, and `dpkg --purge` leaves no file behind.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The .deb of the soak binary under test (the dev profile: what cargo built for these
/// tests, stripped by cargo-deb).
fn build_deb() -> PathBuf {
    let target = soak().parent().unwrap().parent().unwrap().to_path_buf();
    let o = Command::new(repo().join("packaging/build-deb.sh"))
        .args(["--profile", "dev", "--no-build"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(o.status.success(), "build-deb.sh: {}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let deb = PathBuf::from(stdout.lines().last().unwrap_or_default());
    let deb = if deb.is_absolute() {
        deb
    } else {
        repo().join(deb)
    };
    assert!(
        deb.is_file(),
        "no package at {}: {}",
        deb.display(),
        show(&o)
    );
    deb
}

/// A container of this host's Debian root, removed (with its image) when dropped.
struct Container {
    name: String,
    image: String,
}

impl Container {
    fn start(deb: &Path) -> Container {
        let tag = format!("soak-package-test-{}", std::process::id());
        let image = format!("{tag}:latest");
        // The root holds what the package and this test need: systemd (units, sysusers,
        // systemd-analyze), man-db, util-linux (setpriv), and their dependencies.
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "python3 '{}' systemd man-db util-linux | docker import - {image}",
                repo().join("tests/package/rootfs.py").display()
            ))
            .output()
            .unwrap();
        assert!(o.status.success(), "image: {}", show(&o));
        let c = Container { name: tag, image };
        let o = docker(&[
            "run",
            "-d",
            "--name",
            &c.name,
            "-v",
            &format!("{}:/soak.deb:ro", deb.display()),
            &c.image,
            "sleep",
            "600",
        ]);
        assert!(o.status.success(), "docker run: {}", show(&o));
        c
    }

    /// Runs a shell command in the container; its output.
    fn sh(&self, script: &str) -> Output {
        docker(&["exec", &self.name, "sh", "-c", script])
    }

    /// Runs a shell command that must succeed; its stdout and stderr.
    fn ok(&self, script: &str) -> String {
        let o = self.sh(script);
        assert!(o.status.success(), "{script}: {}", show(&o));
        text(&o)
    }

    /// Every path of the root file system, sorted.
    fn files(&self) -> Vec<String> {
        let out = self.ok("find / -xdev -path /proc -prune -o -path /sys -prune -o -path /dev -prune -o -print | sort");
        out.lines().map(str::to_owned).collect()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
        let _ = docker(&["rmi", "-f", &self.image]);
    }
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

#[test]
fn the_deb_passes_lintian_installs_works_and_purges_clean() {
    let mut missing: Vec<&str> = ["cargo-deb", "lintian", "docker", "python3", "dpkg-query"]
        .into_iter()
        .filter(|c| !have(c))
        .collect();
    if have("docker") && !docker(&["info"]).status.success() {
        missing.push("a running Docker engine");
    }
    if skip_unless(
        missing.is_empty(),
        "the_deb_passes_lintian",
        &format!(
            "{} (cargo install cargo-deb --locked; apt-get install lintian dpkg-dev docker.io; .ci/run does)",
            missing.join(", ")
        ),
    ) {
        return;
    }
    let deb = build_deb();

    // lintian: no error and no warning (the one override carries its reason).
    let o = Command::new("lintian")
        .args(["--fail-on", "error,warning"])
        .arg(&deb)
        .output()
        .unwrap();
    let report = text(&o);
    assert!(o.status.success(), "lintian: {report}");
    assert!(
        !report
            .lines()
            .any(|l| l.starts_with("E:") || l.starts_with("W:")),
        "lintian: {report}"
    );

    let c = Container::start(&deb);
    let before = c.files();
    let install = c.ok("dpkg -i /soak.deb");
    assert!(install.contains("Creating user 'soak'"), "{install}");

    // The binary, the user, the conffiles.
    let version = c.ok("/usr/bin/soak --version");
    assert_eq!(
        version.trim(),
        format!("soak {}", env!("CARGO_PKG_VERSION"))
    );
    let user = c.ok("getent passwd soak");
    assert!(
        user.trim().ends_with(":/var/lib/soak:/usr/sbin/nologin"),
        "{user}"
    );
    let conffiles = c.ok("dpkg-query -W -f='${Conffiles}' soak");
    for p in ["ci", "nightly", "smoke"] {
        assert!(
            conffiles.contains(&format!("/etc/soak/{p}.toml")),
            "{conffiles}"
        );
    }

    // The man pages, found and rendered by man; the completions.
    assert_eq!(c.ok("man -w soak").trim(), "/usr/share/man/man1/soak.1.gz");
    assert_eq!(
        c.ok("man -w soak-prune").trim(),
        "/usr/share/man/man1/soak-prune.1.gz"
    );
    let page = c.ok("MANWIDTH=100 MANPAGER=cat man soak-prune 2>&1");
    assert!(page.contains("--older-than"), "{page}");
    let bash = c.ok("bash -c '. /usr/share/bash-completion/completions/soak && complete -p soak'");
    assert!(bash.contains("_soak soak"), "{bash}");
    c.ok("grep -q '#compdef soak' /usr/share/zsh/vendor-completions/_soak");
    c.ok("grep -q 'complete -c soak' /usr/share/fish/vendor_completions.d/soak.fish");

    // The installed units: verify (it also finds each Documentation= page with man),
    // and the prune timer enabled.
    let verify = c.ok(
        "systemd-analyze verify soak@nightly.service soak-nightly@nightly.timer \
         soak-prune.service soak-prune.timer soak-notify@soak@nightly.service.service 2>&1",
    );
    assert!(verify.trim().is_empty(), "verify warned: {verify}");
    c.ok("test -L /etc/systemd/system/timers.target.wants/soak-prune.timer");

    // A real run as user soak in the state directory, as soak@smoke would do it (systemd
    // makes /var/lib/soak for the unit), then the notify script and prune on it.
    c.ok("install -d -o soak -g soak /var/lib/soak");
    let o = c.sh(
        "cd /var/lib/soak && setpriv --reuid soak --regid soak --init-groups \
         /usr/bin/soak --profile /etc/soak/smoke.toml --name smoke --duration 2s \
         --interval 200ms --warmup 500ms --quiet -- sleep 60",
    );
    assert!(matches!(code(&o), 0 | 3), "run as soak: {}", show(&o));
    let run = c.ok("ls -d /var/lib/soak/reports/smoke-*");
    c.ok(&format!("test -f {}/report.json", run.trim()));
    let notify = c.ok(
        "MONITOR_EXIT_STATUS=1 setpriv --reuid soak --regid soak --init-groups \
         /usr/lib/soak/soak-notify soak@smoke.service 2>&1",
    );
    assert!(
        notify.starts_with("<3>soak@smoke.service: FAIL") && notify.contains(run.trim()),
        "{notify}"
    );
    let pruned = c.ok("setpriv --reuid soak --regid soak --init-groups \
         /usr/bin/soak prune /var/lib/soak/reports --keep 0");
    assert!(pruned.contains("removed 1 of 1 runs"), "{pruned}");
    // A run left for the purge to remove with the state directory.
    c.ok(
        "cd /var/lib/soak && setpriv --reuid soak --regid soak --init-groups \
         /usr/bin/soak --name left --duration 1s --interval 200ms --warmup 300ms --quiet \
         -- sleep 60 || test $? = 3",
    );

    c.ok("dpkg --purge soak");
    let after = c.files();
    // What dpkg, man-db and the account tools keep of any package: their logs and
    // databases, the backups of the account files; and /run, a tmpfs on a real box
    // (systemd-analyze leaves its runtime directory there).
    let bookkeeping = |p: &str| {
        p == "/run/systemd"
            || p.starts_with("/run/systemd/")
            || p.starts_with("/var/lib/dpkg/")
            || p.starts_with("/var/log/")
            || p.starts_with("/var/cache/")
            || p.starts_with("/var/lib/systemd/deb-systemd-helper-")
            || [
                "/etc/passwd-",
                "/etc/group-",
                "/etc/shadow-",
                "/etc/gshadow-",
            ]
            .contains(&p)
    };
    let left: Vec<&String> = after
        .iter()
        .filter(|p| !before.contains(p) && !bookkeeping(p))
        .collect();
    assert!(left.is_empty(), "dpkg --purge left: {left:?}");
    let soak_paths = c.ok(
        "find / -xdev -path /proc -prune -o -name '*soak*' -print | grep -v '^/soak.deb$' || true",
    );
    assert!(soak_paths.trim().is_empty(), "left behind: {soak_paths}");
}
