//! Sampled allocation sites in the heap shim (issue #18): C programs run with the
//! embedded shim, `SOAK_HEAP_DIR` and `SOAK_SITES_PERIOD`, and the `PID.sites` files they
//! leave are read back with `soak::sample::sites` and checked against `nm` of the binary.
//!
//! tests/heap/sites_paths.c has three allocation paths of which one leaks, a second
//! thread and a forked child; tests/heap/alloc_matrix.c and hold.cc run linked to glibc,
//! tcmalloc, mimalloc and jemalloc (libgoogle-perftools-dev, libmimalloc-dev,
//! libjemalloc-dev must be installed: without them these tests fail).

use soak::sample::sites::{read_sites, RawSite, SiteTable, Unwinder};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Mean bytes between samples in these tests: small, so a few seconds give thousands.
const PERIOD: &str = "16384";

fn build_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sites-shim");
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// The embedded shim, written out once.
fn shim() -> &'static Path {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let p = build_dir().join("libsoak_heap.so");
        std::fs::write(&p, soak::sample::heap::SHIM).expect("write shim");
        p
    })
}

fn compile(compiler: &str, src: &str, name: &str, flags: &[&str]) -> PathBuf {
    let out = build_dir().join(name);
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/heap")
        .join(src);
    let o = Command::new(compiler)
        .args(["-O2", "-pthread", "-o"])
        .arg(&out)
        .arg(&src)
        .args(flags)
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(
        o.status.success(),
        "{compiler} {src:?} {flags:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// A command with the shim injected, publishing into `dir`, sampling sites.
fn shimmed(exe: &Path, dir: &Path, unwind: &str) -> Command {
    let mut c = Command::new(exe);
    c.env("LD_PRELOAD", shim())
        .env("SOAK_HEAP_DIR", dir)
        .env("SOAK_SITES_PERIOD", PERIOD)
        .env("SOAK_SITES_UNWIND", unwind);
    c
}

/// A program's functions from `nm -S`: (start, size, name), link-time addresses.
fn functions(exe: &Path) -> Vec<(u64, u64, String)> {
    let o = Command::new("nm")
        .args(["-S", "--defined-only"])
        .arg(exe)
        .output()
        .expect("run nm (binutils)");
    assert!(o.status.success(), "nm failed");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 4 || !matches!(f[2], "T" | "t") {
                return None;
            }
            Some((
                u64::from_str_radix(f[0], 16).ok()?,
                u64::from_str_radix(f[1], 16).ok()?,
                f[3].to_string(),
            ))
        })
        .collect()
}

/// Names the program's frames of a site (frames elsewhere: None), given the load bias.
struct Symbols {
    funcs: Vec<(u64, u64, String)>,
    bias: u64,
}

impl Symbols {
    /// `main_at`: the runtime address of main, which the program printed.
    fn new(exe: &Path, main_at: u64) -> Symbols {
        let funcs = functions(exe);
        let main = funcs.iter().find(|f| f.2 == "main").expect("main in nm").0;
        Symbols {
            funcs,
            bias: main_at.wrapping_sub(main),
        }
    }

    /// The function holding a return address (its call instruction is just before it).
    fn name(&self, ret: u64) -> Option<&str> {
        let a = ret.wrapping_sub(1).wrapping_sub(self.bias);
        self.funcs
            .iter()
            .find(|(s, z, _)| a >= *s && a < s + z)
            .map(|f| f.2.as_str())
    }

    fn names(&self, s: &RawSite) -> Vec<&str> {
        s.frames.iter().filter_map(|f| self.name(*f)).collect()
    }

    fn has(&self, s: &RawSite, func: &str) -> bool {
        self.names(s).contains(&func)
    }
}

/// The program's printed `key value` lines.
fn printed(stdout: &str, key: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .map(|v| {
            let v = v.trim();
            match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).expect("hex"),
                None => v.parse().expect("number"),
            }
        })
        .unwrap_or_else(|| panic!("no {key} in {stdout}"))
}

fn sum_live(t: &SiteTable, keep: impl Fn(&RawSite) -> bool) -> f64 {
    t.sites
        .iter()
        .filter(|s| keep(s))
        .map(|s| s.live_bytes as f64)
        .sum()
}

fn within(estimate: f64, truth: f64, tolerance: f64) -> bool {
    (estimate - truth).abs() <= truth * tolerance
}

/// Runs sites_paths built with `flags` under the `unwind` unwinder and checks the leak
/// is site #1, its estimate, the thread's stacks and the fork child's file.
fn three_paths(name: &str, flags: &[&str], unwind: &str, expect: Unwinder) {
    let exe = compile("cc", "sites_paths.c", name, flags);
    let dir = tempfile::tempdir().expect("tempdir");
    let o = shimmed(&exe, dir.path(), unwind)
        .arg("300")
        .output()
        .expect("run sites_paths");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{name}: {:?} {out} {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let sym = Symbols::new(&exe, printed(&out, "main"));
    let leaked = printed(&out, "leaked_usable") as f64;
    let cached = printed(&out, "cache_usable") as f64;

    let pid = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .min()
        .expect("a segment");
    let child = u32::try_from(printed(&out, "child")).expect("pid");
    assert_ne!(pid, child);
    let t = read_sites(dir.path(), pid)
        .expect("read")
        .expect("a sites file");
    let show = |t: &SiteTable| {
        t.sites
            .iter()
            .map(|s| {
                format!(
                    "{:>10} {:>6}/{:<6} {:?}",
                    s.live_bytes,
                    s.allocs,
                    s.frees,
                    sym.names(s)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(t.pid, pid);
    assert_eq!(t.unwinder, expect, "{name}");
    assert_eq!(t.period, 16384);
    assert!(t.samples > 1000, "{name}: {} samples", t.samples);
    assert_eq!(t.dropped, 0);
    assert!(!t.sites_full && !t.live_full);

    let top = t
        .sites
        .iter()
        .max_by_key(|s| s.live_bytes)
        .expect("some site");
    assert!(
        sym.has(top, "leak_here"),
        "{name}: the top site is not in leak_here:\n{}",
        show(&t)
    );
    let leak = sum_live(&t, |s| sym.has(s, "leak_here"));
    assert!(
        within(leak, leaked, 0.25),
        "{name}: leak estimated {leak} for {leaked} leaked:\n{}",
        show(&t)
    );
    let cache = sum_live(&t, |s| sym.has(s, "cache_here"));
    assert!(
        within(cache, cached, 0.25),
        "{name}: cache estimated {cache} for {cached} held:\n{}",
        show(&t)
    );
    // Every churned block was freed: its sites hold nothing, each sample matched.
    for s in t.sites.iter().filter(|s| sym.has(s, "churn_here")) {
        assert_eq!(
            (s.live_bytes, s.allocs),
            (0, s.frees),
            "{name}: {:?}",
            sym.names(s)
        );
    }
    // The leak is found on both threads, each through its own outer function.
    for func in ["worker", "main"] {
        assert!(
            t.sites
                .iter()
                .any(|s| sym.has(s, "leak_here") && sym.has(s, func)),
            "{name}: no leak_here stack through {func}:\n{}",
            show(&t)
        );
    }

    // The fork child: its own file, starting from the parent's sites (its heap is a copy,
    // so it holds part of the leak), then churn called straight from main.
    let c = read_sites(dir.path(), child)
        .expect("read")
        .expect("the child's sites file");
    assert_eq!((c.pid, c.unwinder), (child, expect));
    let direct = |s: &RawSite| {
        sym.names(s).first() == Some(&"churn_here") && sym.names(s).get(1) == Some(&"main")
    };
    let mine: Vec<&RawSite> = c.sites.iter().filter(|s| direct(s)).collect();
    assert!(
        !mine.is_empty() && mine.iter().all(|s| s.allocs > 0 && s.live_bytes == 0),
        "{name}: the child's churn:\n{}",
        show(&c)
    );
    assert!(
        !t.sites.iter().any(direct),
        "the parent never churns from main"
    );
    let inherited = sum_live(&c, |s| sym.has(s, "leak_here"));
    assert!(
        inherited > 0.0 && inherited < leak,
        "{name}: the child holds the leak of the parent at the fork: {inherited}"
    );
}

#[test]
fn the_leak_is_site_one_with_libgcc_unwinding() {
    three_paths(
        "sites_paths_fp",
        &["-fno-omit-frame-pointer"],
        "eh",
        Unwinder::EhFrame,
    );
}

#[test]
fn the_leak_is_site_one_with_frame_pointers() {
    three_paths(
        "sites_paths_fp_walk",
        &["-fno-omit-frame-pointer"],
        "fp",
        Unwinder::FramePointer,
    );
}

#[test]
fn libgcc_unwinding_needs_no_frame_pointers() {
    three_paths(
        "sites_paths_nofp",
        &["-fomit-frame-pointer"],
        "eh",
        Unwinder::EhFrame,
    );
}

/// Without SOAK_SITES_PERIOD the shim publishes its segment and no sites file.
#[test]
fn no_period_no_sites_file() {
    let exe = compile("cc", "alloc_matrix.c", "alloc_matrix_plain", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let st = Command::new(&exe)
        .arg("0")
        .env("LD_PRELOAD", shim())
        .env("SOAK_HEAP_DIR", dir.path())
        .stdout(Stdio::null())
        .status()
        .expect("run");
    assert!(st.success());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_string()))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].bytes().all(|b| b.is_ascii_digit()), "{names:?}");
}

/// An exec into an image that does not sample leaves no sites file of the image before.
#[test]
fn exec_without_sampling_removes_the_earlier_images_file() {
    let exe = compile("cc", "alloc_matrix.c", "alloc_matrix_exec", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let script = format!("exec env -u SOAK_SITES_PERIOD {} 0", exe.display());
    let o = shimmed(Path::new("sh"), dir.path(), "eh")
        .args(["-c", &script])
        .output()
        .expect("run sh");
    assert!(o.status.success(), "{o:?}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_string()))
        .collect();
    assert_eq!(names.len(), 1, "one pid, no sites file: {names:?}");
}

/// Every allocator the shim supports, with sites on at a small period and each
/// unwinder: the program runs as without the shim, the live estimate while it holds its
/// blocks matches what it holds, and after it freed them (through every family: free,
/// realloc, sdallocx, operator delete) the sites hold (almost) nothing.
#[test]
fn every_allocator_is_unharmed_with_sites_on() {
    // Requested bytes held by alloc_matrix.c: 4096 blocks of 1000 + (i % 7) * 3000.
    let requested: f64 = (0..4096).map(|i| 1000.0 + f64::from(i % 7) * 3000.0).sum();
    let strings = 100_000.0 * (32.0 + 201.0);
    let cases: [(&str, &str, &str, &[&str], f64); 7] = [
        ("c-glibc", "cc", "alloc_matrix.c", &[], requested),
        (
            "c-tcmalloc",
            "cc",
            "alloc_matrix.c",
            &["-ltcmalloc"],
            requested,
        ),
        (
            "c-mimalloc",
            "cc",
            "alloc_matrix.c",
            &["-lmimalloc"],
            requested,
        ),
        (
            "c-jemalloc",
            "cc",
            "alloc_matrix.c",
            &["-DWITH_JEMALLOC_API", "-ljemalloc"],
            requested,
        ),
        ("cxx-glibc", "c++", "hold.cc", &[], strings),
        ("cxx-tcmalloc", "c++", "hold.cc", &["-ltcmalloc"], strings),
        ("cxx-mimalloc", "c++", "hold.cc", &["-lmimalloc"], strings),
    ];
    for (name, compiler, src, flags, held) in cases {
        let exe = compile(compiler, src, &format!("sites-{name}"), flags);
        let plain = Command::new(&exe).arg("1").output().expect("run plain");
        assert!(plain.status.success(), "{name} fails without the shim");
        for unwind in ["eh", "fp"] {
            let what = format!("{name} ({unwind})");
            let dir = tempfile::tempdir().expect("tempdir");
            let mut child = shimmed(&exe, dir.path(), unwind)
                .arg("1")
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn");
            let pid = child.id();
            let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
            let mut out = String::new();
            // alloc_matrix.c says "live N" while it holds its blocks; hold.cc says nothing
            // before "done", so its holding figure is not checked mid-run.
            if src == "alloc_matrix.c" {
                stdout.read_line(&mut out).expect("read");
                let t = read_sites(dir.path(), pid)
                    .expect("read")
                    .expect("sites file");
                let live = sum_live(&t, |_| true);
                assert!(
                    live >= held * 0.75 && live <= held * 1.25 * 1.25,
                    "{what}: live estimate {live} while holding {held} requested"
                );
            }
            std::io::Read::read_to_string(&mut stdout, &mut out).expect("read");
            let st = child.wait().expect("wait");
            assert!(st.success(), "{what}: {st:?}");
            assert_eq!(
                out,
                String::from_utf8_lossy(&plain.stdout),
                "{what}: output differs"
            );
            let t = read_sites(dir.path(), pid)
                .expect("read")
                .expect("sites file");
            let unwinder = if unwind == "eh" {
                Unwinder::EhFrame
            } else {
                Unwinder::FramePointer
            };
            assert_eq!(t.unwinder, unwinder, "{what}");
            // A burst of allocations may take the sampler past its time budget: then the
            // period was coarsened (and the estimate above still held).
            assert!(
                t.samples as f64 > held / 16384.0 / 2.0 || t.throttled,
                "{what}: {} samples",
                t.samples
            );
            assert_eq!(t.dropped, 0, "{what}");
            // What the runtime keeps (stdio's buffer, the C++ runtime's pools) may be
            // sampled: a few periods at most.
            let left = sum_live(&t, |_| true);
            assert!(
                left.abs() < 16.0 * 16384.0,
                "{what}: {left} bytes estimated live after everything was freed"
            );
            assert!(
                t.sites
                    .iter()
                    .all(|s| s.frees <= s.allocs && s.live_bytes >= 0),
                "{what}: a free matched twice"
            );
        }
    }
}

/// Fork handlers registered before the shim's (a library's constructor runs first) run
/// while the shim holds its sampler's locks: their allocations and frees must not wait
/// for them. Before the fix, this program hung in its first fork.
#[test]
fn fork_handlers_that_allocate_do_not_deadlock() {
    let dir = build_dir();
    let lib_src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/heap/sites_fork_handlers_lib.c");
    let lib = dir.join("libsites_fork_handlers.so");
    let o = Command::new("cc")
        .args(["-O2", "-shared", "-fPIC", "-pthread", "-o"])
        .arg(&lib)
        .arg(&lib_src)
        .output()
        .expect("run cc");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rpath = format!("-Wl,-rpath,{}", dir.display());
    let ldir = format!("-L{}", dir.display());
    let exe = compile(
        "cc",
        "sites_fork_handlers.c",
        "sites_fork_handlers",
        &[&ldir, "-lsites_fork_handlers", &rpath],
    );
    let out = tempfile::tempdir().expect("tempdir");
    let mut child = shimmed(&exe, out.path(), "eh")
        .env("SOAK_SITES_PERIOD", "4096")
        .stdout(Stdio::piped())
        .spawn()
        .expect("run");
    // A hang guard, not a time limit: the program takes well under a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let status = status.expect("the program hung in fork (deadlock in the shim's sampler)");
    let mut stdout = String::new();
    if let Some(mut s) = child.stdout.take() {
        std::io::Read::read_to_string(&mut s, &mut stdout).expect("read stdout");
    }
    assert!(status.success(), "{status:?}");
    assert_eq!(stdout.trim(), "forked 200");
}

/// A thread that allocates far faster than the sampler may follow (a period of 4 KiB
/// against a malloc/free loop) has its period coarsened, the table says so, and the
/// estimates, weighted by the period each sample ran under, stay right: within four
/// standard deviations of the Poisson error of the samples behind them (a weight taken
/// from the base period instead would be off by the coarsening factor, 2^shift).
#[test]
fn a_thread_that_samples_too_often_is_throttled_and_stays_unbiased() {
    let exe = compile("cc", "sites_fast.c", "sites_fast", &["-O2", "-g"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let o = shimmed(&exe, dir.path(), "eh")
        .env("SOAK_SITES_PERIOD", "4096")
        .output()
        .expect("run sites_fast");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{out}");
    let kept = printed(&out, "kept_usable") as f64;
    let pid = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .min()
        .expect("a segment");
    let t = read_sites(dir.path(), pid)
        .expect("read")
        .expect("a sites file");
    assert!(
        t.throttled,
        "a 4 KiB period against a malloc loop is throttled"
    );
    // The kept blocks are the only live ones at the end: the whole table's live bytes
    // are theirs.
    let live: Vec<&RawSite> = t.sites.iter().filter(|s| s.live_bytes > 0).collect();
    let estimate: f64 = live.iter().map(|s| s.live_bytes as f64).sum();
    let n: f64 = live
        .iter()
        .map(|s| s.allocs.saturating_sub(s.frees) as f64)
        .sum();
    assert!(n >= 16.0, "{n} samples of the kept blocks");
    let err = (estimate - kept).abs() / kept;
    assert!(
        err < 4.0 / n.sqrt(),
        "estimate {estimate} vs kept {kept}: {:.1}% off on {n} samples",
        err * 100.0
    );
}
