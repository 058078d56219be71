//! Symbolizing real native programs after they exit: a C program (cc -g -O1), a C++ one
//! (g++, a namespaced function) and a stripped copy of the C one. Each prints addresses
//! of its own code and waits; the test reads its maps, kills it, then symbolizes.
//! Needs the `cli` feature (blazesym): without it frames are bare by design.
#![cfg(feature = "cli")]

use super::maps::{Location, Maps};
use super::symbolize::{Frame, Symbolizer};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Line 6 holds the call to `where`, whose return address the program prints; line 10
/// the same call in a function inlined into `outer` at line 11.
const C_SOURCE: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void *volatile sink;
__attribute__((noinline)) void *where(void) { return __builtin_return_address(0); }
__attribute__((noinline)) void *leak_here(size_t n) { void *r = where();
    sink = malloc(n);
    return r;
}
static inline __attribute__((always_inline)) void *helper(void) { return where(); }
__attribute__((noinline)) void *outer(void) { void *r = helper();
    sink = r;
    return r;
}
int main(void) {
    void *ret = leak_here(16);
    void *inlined = outer();
    printf("%p %p %p\n", (void *)&leak_here, ret, inlined);
    fflush(stdout);
    pause();
    return 0;
}
"#;

const CXX_SOURCE: &str = r#"#include <cstdio>
#include <unistd.h>
#include <vector>
namespace store { namespace detail {
std::vector<int> *kept;
__attribute__((noinline)) void grow(int n) {
    kept = new std::vector<int>(n);
}
} }
int main() {
    store::detail::grow(8);
    std::printf("%p\n", (void *)&store::detail::grow);
    std::fflush(stdout);
    pause();
    return 0;
}
"#;

/// Compiles `source` (named `name`) with `compiler` into `dir`; panics when it cannot:
/// a machine without a compiler fails this test rather than skipping it.
fn build(dir: &Path, compiler: &str, name: &str, source: &str) -> PathBuf {
    let src = dir.join(name);
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name.split('.').next().unwrap());
    let out = Command::new(compiler)
        .args(["-g", "-O1", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("{compiler} is needed for this test: {e}"));
    assert!(
        out.status.success(),
        "{compiler}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs `exe`, reads the addresses it prints and its maps, then kills it and waits:
/// symbolization happens with the process gone.
fn run_and_kill(exe: &Path) -> (Vec<u64>, Maps) {
    let mut child = Command::new(exe).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let maps = Maps::read(child.id()).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!Path::new(&format!("/proc/{}", child.id())).exists());
    let addrs = line
        .split_whitespace()
        .map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap())
        .collect();
    (addrs, maps)
}

fn is_in(l: &Location, exe: &Path) -> bool {
    matches!(l, Location::File { path, .. } if path == exe)
}

#[test]
fn c_program_after_exit() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build(dir.path(), "cc", "leaky.c", C_SOURCE);
    let (addrs, maps) = run_and_kill(&exe);
    let [function, ret, inlined] = addrs[..] else {
        panic!("{addrs:?}")
    };
    let locations = [maps.locate(function + 1), maps.locate(ret)];
    assert!(locations.iter().all(|l| is_in(l, &exe)), "{locations:?}");
    let frames = Symbolizer::new().symbolize(&locations);
    assert_eq!(frames.len(), 2, "{frames:#?}");
    for f in &frames {
        assert_eq!(f.function.as_deref(), Some("leak_here"), "{f:?}");
        assert!(
            f.file.as_deref().is_some_and(|p| p.ends_with("leaky.c")),
            "{f:?}"
        );
        assert_eq!(f.module, "leaky");
    }
    assert_eq!(
        frames[1].line,
        Some(6),
        "the call to where(): {:?}",
        frames[1]
    );
    assert!(
        frames[1].display().starts_with("leak_here (")
            && frames[1].display().ends_with("leaky.c:6)"),
        "{}",
        frames[1].display()
    );
    // Inlined: the innermost inlined function first, then the function it was inlined into.
    let frames = Symbolizer::new().symbolize(&[maps.locate(inlined)]);
    let shown: Vec<(Option<&str>, Option<u32>)> = frames
        .iter()
        .map(|f| (f.function.as_deref(), f.line))
        .collect();
    assert_eq!(
        shown,
        vec![(Some("helper"), Some(10)), (Some("outer"), Some(11))],
        "{frames:#?}"
    );
}

#[test]
fn cxx_program_demangled() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build(dir.path(), "g++", "store.cpp", CXX_SOURCE);
    let (addrs, maps) = run_and_kill(&exe);
    let location = maps.locate(addrs[0] + 1);
    assert!(is_in(&location, &exe), "{location:?}");
    let frames = Symbolizer::new().symbolize(&[location]);
    let f = frames.last().unwrap();
    assert_eq!(
        f.function.as_deref(),
        Some("store::detail::grow(int)"),
        "{frames:#?}"
    );
    assert!(
        f.file.as_deref().is_some_and(|p| p.ends_with("store.cpp")),
        "{f:?}"
    );
    assert_eq!(f.line, Some(6), "{f:?}");
}

#[test]
fn stripped_program_degrades() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build(dir.path(), "cc", "leaky.c", C_SOURCE);
    let stripped = dir.path().join("leaky-stripped");
    let out = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("strip is needed for this test: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (addrs, maps) = run_and_kill(&stripped);
    let locations: Vec<Location> = [addrs[0] + 1, addrs[1]]
        .iter()
        .map(|a| maps.locate(*a))
        .collect();
    assert!(
        locations.iter().all(|l| is_in(l, &stripped)),
        "{locations:?}"
    );
    let frames: Vec<Frame> = Symbolizer::new().symbolize(&locations);
    assert_eq!(frames.len(), 2, "{frames:#?}");
    for f in &frames {
        // No .symtab and no DWARF: .dynsym of an executable does not hold leak_here, so
        // the frame is bare (a name from .dynsym would be accepted too, never a line).
        let shown = f.display();
        assert!(
            shown.starts_with("leaky-stripped+0x") || shown.starts_with("leak_here"),
            "{shown}"
        );
        assert_eq!(f.line, None, "{f:?}");
    }
}

#[test]
fn a_file_replaced_under_the_same_path_is_symbolized_anew() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build(dir.path(), "cc", "leaky.c", C_SOURCE);
    let (addrs, maps) = run_and_kill(&exe);
    let location = maps.locate(addrs[1]);
    let mut s = Symbolizer::new();
    let before = s.symbolize(std::slice::from_ref(&location));
    assert_eq!(before[0].function.as_deref(), Some("leak_here"));
    // A "rebuild" without symbols replaces the file: the cached name must not survive.
    let stripped = dir.path().join("leaky-stripped");
    let out = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("strip is needed for this test: {e}"));
    assert!(out.status.success());
    std::fs::rename(&stripped, &exe).unwrap();
    let after = s.symbolize(&[location]);
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0].function, None, "{after:#?}");
}
