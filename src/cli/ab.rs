//! `soak ab [RUN OPTIONS] -- CMD_A [ARGS] ::: CMD_B [ARGS]`: both commands soaked under
//! the same run options, then B (the candidate) compared with A (the baseline) as
//! `soak compare` does, everything in one parent directory: `a/`, `b/` and compare.*.
//!
//! Each side is a soak run of its own process: this executable re-run with the very
//! same arguments plus a hidden `--side a|b`, so both sides get the same options by
//! construction and the run machinery is the one every run goes through. Two command
//! sessions cannot share one process: a session reaps with `waitpid(-1)` and counts the
//! orphans soak adopts (it is their subreaper) as its own tree, so each would take the
//! other's processes.
//!
//! The parent checks both sides' options before anything starts (a usage error runs
//! nothing), runs the sides in the chosen `--order`, passes on a stop signal that a
//! process sent to it alone, and compares the two reports.

use super::args::RunArgs;
use super::compare::{check_thresholds, load, print, tell_ci, write_files, CompareFormat};
use super::profile::Merge;
use super::values::parse_percent;
use super::verdict::usage;
use crate::compare::AbRun;
use crate::config::{Format, RunConfig};
use crate::console;
use crate::error::{exit_code, Error, Result};
use crate::report::markup::plain;
use crate::units::Secs;
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

/// The epilogue of `soak ab --help`.
pub(super) const AB_HELP: &str = "\
CMD_A is the baseline, CMD_B the candidate; ':::' separates them. Each side is a soak run
of its own with the same run options (flags or --profile), in DIR/a and DIR/b; then B is
compared with A as `soak compare` does, into DIR/compare.json, compare.md, compare.html.

Order (--order):
  concurrent  both at once, for the whole duration (the default): load on the machine
              touches both alike, but they compete with each other for CPU and memory
              bandwidth, and must not need one resource (a port, a file); only A's
              progress is shown
  sequential  A for the whole duration, then B (alias: alternate): each has the machine
              to itself, but whatever changes in between favours one side, A always goes
              first, and it takes twice as long

Exit codes:
  0  no figure of B is more than --fail worse than A's (WARN is exit 0 too)
  1  a figure of B is more than --fail worse
  2  usage error (no ':::', an empty side, a bad option): nothing was run
  3  stopped (Ctrl-C, SIGTERM) before B started (--order sequential): no comparison
  4  a side's target failed (did not start, crashed, exited early); the comparison is
     still written when both sides left a report
  5  monitor error on a side (I/O, permissions)
A side's own verdict (PASS, FAIL, INCONCLUSIVE) does not set the exit code: the
comparison warns about it.

Examples:
  soak ab --duration 10m -- ./server-v1 --port 8080 ::: ./server-v2 --port 8081
  soak ab --profile soak/ci.toml --order sequential -- ./bench old ::: ./bench new";

/// How the two sides share the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Order {
    /// Both at once, for the whole duration.
    Concurrent,
    /// A for the whole duration, then B.
    #[value(alias = "alternate")]
    Sequential,
}

impl Order {
    /// Its name, as typed.
    fn name(self) -> &'static str {
        match self {
            Order::Concurrent => "concurrent",
            Order::Sequential => "sequential",
        }
    }

    /// What the order means for the comparison's fairness.
    fn meaning(self, duration: Duration) -> String {
        let d = Secs(duration.as_secs_f64());
        match self {
            Order::Concurrent => format!(
                "A and B ran at the same time, each for {d}: whatever else loaded the machine loaded both alike, but they competed with each other for CPU and memory bandwidth (each side's figures are its own process tree's)"
            ),
            Order::Sequential => format!(
                "A ran for {d}, then B for {d}: each had the machine to itself, but whatever changed in between (other load, a warmer page cache) favours one side, and A always went first"
            ),
        }
    }
}

/// A side of the A/B run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SideArg {
    /// The baseline.
    A,
    /// The candidate.
    B,
}

impl SideArg {
    /// Its run directory's name under the parent, and its `--side` value.
    fn dir(self) -> &'static str {
        match self {
            SideArg::A => "a",
            SideArg::B => "b",
        }
    }

    /// Its name in messages.
    fn label(self) -> &'static str {
        match self {
            SideArg::A => "A",
            SideArg::B => "B",
        }
    }
}

/// Arguments of `soak ab`.
#[derive(Debug, Args)]
#[command(mut_args(ab_arg))]
pub struct AbArgs {
    /// The run options both sides get.
    #[command(flatten)]
    pub run: RunArgs,
    /// How the sides share the machine: concurrent (both at once) or sequential (A, then
    /// B; alias alternate). See below.
    #[arg(long, value_enum, default_value_t = Order::Concurrent)]
    pub order: Order,
    /// Warn when a figure of B is more than this much worse than A's.
    #[arg(long, value_parser = parse_percent, default_value = "5%", value_name = "PERCENT")]
    pub warn: f64,
    /// Fail (exit 1) when a figure of B is more than this much worse than A's.
    #[arg(long, value_parser = parse_percent, default_value = "20%", value_name = "PERCENT")]
    pub fail: f64,
    /// Internal: run one side (the parent starts soak again with it).
    #[arg(long, hide = true, value_enum, requires = "side_dir")]
    pub side: Option<SideArg>,
    /// Internal: the parent directory a side's run goes into.
    #[arg(long, hide = true, value_name = "DIR", requires = "side")]
    pub side_dir: Option<PathBuf>,
}

/// A run option as `soak ab` shows it: the target options it refuses are hidden, and
/// the options that mean something else here say what.
fn ab_arg(a: clap::Arg) -> clap::Arg {
    match a.get_id().as_str() {
        "pid" | "image" | "container" | "memory_limit" | "env" | "cgroup_root" | "metrics_addr" => a.hide(true),
        "out" => a.help("Parent directory of the A/B run: a/ and b/ (each side's run directory), compare.json, compare.md and compare.html [default: reports/ab-<UTC timestamp>]"),
        "name" => a.help("Run names: NAME-a and NAME-b [default: each command's file name, with -a or -b]"),
        "command" => a.value_name("CMD_A ::: CMD_B").help("The two commands after --, separated by ::: (each started directly, no shell)"),
        "format" => a
            .hide_possible_values(true)
            .help("What stdout gets: text (a table) or json (the comparison, as compare.json)"),
        _ => a,
    }
}

/// The two commands, split at the one `:::`.
fn split(cmd: Vec<String>) -> Result<(Vec<String>, Vec<String>)> {
    const HOW: &str = "soak ab [OPTIONS] -- CMD_A [ARGS] ::: CMD_B [ARGS]";
    if cmd.is_empty() {
        return Err(usage(format!("soak ab needs two commands: {HOW}")));
    }
    let seps: Vec<usize> = (0..cmd.len()).filter(|i| cmd[*i] == ":::").collect();
    let at = match seps[..] {
        [] => {
            return Err(usage(format!(
                "soak ab needs ':::' between the two commands: {HOW}"
            )))
        }
        [at] => at,
        _ => {
            return Err(usage(format!(
                "soak ab takes two commands, but ':::' appears {} times: {HOW}",
                seps.len()
            )))
        }
    };
    let (a, b) = (cmd[..at].to_vec(), cmd[at + 1..].to_vec());
    if a.is_empty() {
        return Err(usage(format!(
            "side A is empty: give its command before ':::' ({HOW})"
        )));
    }
    if b.is_empty() {
        return Err(usage(format!(
            "side B is empty: give its command after ':::' ({HOW})"
        )));
    }
    Ok((a, b))
}

/// The checked run configuration of one side: the shared options with its command,
/// its name (`<name>-a`, the name defaulting to the program's) and `dir/<a|b>`.
fn side_config(
    a: &AbArgs,
    side: SideArg,
    cmd: &[String],
    name: Option<&str>,
    dir: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<RunConfig> {
    let mut r = a.run.clone();
    let program = cmd
        .first()
        .and_then(|p| Path::new(p).file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    r.name = Some(match name {
        // Left as given: the run's own check says an empty name is wrong.
        Some(n) if n.trim().is_empty() => n.to_string(),
        Some(n) => format!("{n}-{}", side.dir()),
        None => format!("{program}-{}", side.dir()),
    });
    r.command = cmd.to_vec();
    r.out = Some(dir.join(side.dir()));
    // Two progress bars on one terminal would overwrite each other.
    if side == SideArg::B && a.order == Order::Concurrent {
        r.quiet = true;
    }
    r.into_config(now)
}

/// Whether `program` names an executable file, directly or on PATH (what spawning it
/// will look for), so a typo fails before either side starts.
fn startable(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let exec = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return exec(Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| exec(&d.join(program))))
}

/// Set by a stop signal (Ctrl-C, SIGTERM) to `soak ab`.
static STOP_SEEN: AtomicBool = AtomicBool::new(false);
/// A stop signal a process sent to `soak ab` alone, to pass on to the sides (0: none).
static FORWARD: AtomicI32 = AtomicI32::new(0);

/// Catches Ctrl-C and SIGTERM: `soak ab` must outlive its sides to compare what they
/// collected. A terminal's Ctrl-C reaches the whole foreground group, the sides
/// included; a signal a process sent (`kill`, a supervisor) is passed on to them.
fn catch_stops() -> Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let action = move |info: &libc::siginfo_t| {
            STOP_SEEN.store(true, Ordering::SeqCst);
            // si_code <= 0: sent by a process (kill, sigqueue); above: the kernel's or a
            // terminal's, which the sides received too.
            if info.si_code <= 0 {
                FORWARD.store(sig, Ordering::SeqCst);
            }
        };
        // SAFETY: the action only stores to atomics, which is async-signal-safe.
        unsafe { signal_hook_registry::register_sigaction(sig, action) }
            .map_err(|e| Error::Monitor(format!("cannot install signal handler: {e}")))?;
    }
    Ok(())
}

/// Starts one side: this soak again, with the same arguments and `--side`. Its stdout
/// (the side's summary) is dropped; its stderr (start line, progress, errors) is ours.
fn spawn_side(side: SideArg, dir: &Path) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()
        .map_err(|e| Error::Monitor(format!("cannot find soak's own executable: {e}")))?;
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_none_or(|a| a != "ab") {
        return Err(Error::Monitor(
            "soak ab re-runs its own command line for each side, but it does not start with 'ab'"
                .into(),
        ));
    }
    let mut cmd = Command::new(exe);
    cmd.arg("ab")
        .arg("--side")
        .arg(side.dir())
        .arg("--side-dir")
        .arg(dir)
        .args(&argv[2..])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: between fork and exec the closure calls only async-signal-safe functions
    // (getppid, prctl, _exit).
    unsafe {
        let parent = libc::getpid();
        cmd.pre_exec(move || {
            // If soak ab dies, the side stops as on SIGTERM: it still writes its report.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0);
            if libc::getppid() != parent {
                libc::_exit(exit_code::MONITOR_ERROR);
            }
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| Error::Monitor(format!("cannot start side {}: {e}", side.label())))
}

/// Whether a side left its report.
fn has_report(dir: &Path, side: SideArg) -> bool {
    dir.join(side.dir()).join("report.json").exists()
}

/// Waits for the started sides, passing on stop signals. A side that ends without a
/// report while another runs stops the other (no comparison is possible). Returns each
/// side's exit code (a side killed by a signal counts as a monitor error).
fn wait(mut running: Vec<(SideArg, Child)>, dir: &Path) -> Result<Vec<(SideArg, i32)>> {
    let mut done = Vec::new();
    while !running.is_empty() {
        let sig = FORWARD.swap(0, Ordering::SeqCst);
        if sig != 0 {
            for (_, c) in &running {
                // SAFETY: kill has no memory effects; the child is ours and not reaped.
                unsafe { libc::kill(c.id() as i32, sig) };
            }
        }
        let mut i = 0;
        while i < running.len() {
            let status = running[i]
                .1
                .try_wait()
                .map_err(|e| Error::Monitor(format!("cannot wait for a side: {e}")))?;
            let Some(status) = status else {
                i += 1;
                continue;
            };
            let (side, _) = running.remove(i);
            let code = status.code().unwrap_or(exit_code::MONITOR_ERROR);
            if !has_report(dir, side) {
                for (other, c) in &running {
                    console::err_line(&format!(
                        "soak ab: side {} ended without a report (exit {code}): stopping side {}",
                        side.label(),
                        other.label()
                    ));
                    // SAFETY: as above.
                    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
                }
            }
            done.push((side, code));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(done)
}

/// `soak ab`: checks both sides, runs them, compares; a side's own run when `--side`.
pub(super) fn run(a: AbArgs) -> Result<i32> {
    check_thresholds(a.warn, a.fail)?;
    for (given, flag) in [
        (a.run.pid.is_some(), "--pid"),
        (a.run.image.is_some(), "--image"),
        (a.run.container.is_some(), "--container"),
        (a.run.metrics_addr.is_some(), "--metrics-addr"),
    ] {
        if given {
            return Err(usage(format!(
                "soak ab starts both commands itself and serves no /metrics: drop {flag} and give both commands after --: CMD_A [ARGS] ::: CMD_B [ARGS]"
            )));
        }
    }
    let m = Merge::load(a.run.verdict.profile.as_deref())?;
    let (cmd_a, cmd_b) = split(m.command(a.run.command.clone(), false))?;
    let name = m.name(a.run.name.as_deref());
    let now = chrono::Utc::now();
    if let (Some(side), Some(dir)) = (a.side, &a.side_dir) {
        let cmd = if side == SideArg::A { &cmd_a } else { &cmd_b };
        let cfg = side_config(&a, side, cmd, name.as_deref(), dir, now)?;
        let exe = std::env::current_exe().ok();
        return Ok(crate::monitor::run(&cfg, exe.as_deref())?.report.exit_code);
    }
    let dir = a.run.out.clone().unwrap_or_else(|| {
        m.reports_dir()
            .join(format!("ab-{}", now.format("%Y%m%dT%H%M%SZ")))
    });
    let cfg = side_config(&a, SideArg::A, &cmd_a, name.as_deref(), &dir, now)?;
    side_config(&a, SideArg::B, &cmd_b, name.as_deref(), &dir, now)?;
    for (side, cmd) in [(SideArg::A, &cmd_a), (SideArg::B, &cmd_b)] {
        if !startable(&cmd[0]) {
            return Err(Error::Start(format!(
                "side {}: cannot start {}: not found or not executable (check the name and PATH); nothing was run",
                side.label(),
                cmd[0]
            )));
        }
    }
    if dir.join("a/timeline.csv").exists()
        || dir.join("b/timeline.csv").exists()
        || dir.join("compare.json").exists()
    {
        return Err(usage(format!(
            "{} already holds an A/B run; choose another --out",
            dir.display()
        )));
    }
    catch_stops()?;
    console::err_line(&plain(&format!(
        "soak ab: A `{}` and B `{}`, {} for {} each → {}",
        cmd_a.join(" "),
        cmd_b.join(" "),
        a.order.name(),
        Secs(cfg.duration.as_secs_f64()),
        dir.display()
    )));
    let mut codes = match a.order {
        Order::Concurrent => wait(
            vec![
                (SideArg::A, spawn_side(SideArg::A, &dir)?),
                (SideArg::B, spawn_side(SideArg::B, &dir)?),
            ],
            &dir,
        )?,
        Order::Sequential => {
            let mut codes = wait(vec![(SideArg::A, spawn_side(SideArg::A, &dir)?)], &dir)?;
            if has_report(&dir, SideArg::A) && !STOP_SEEN.load(Ordering::SeqCst) {
                codes.extend(wait(
                    vec![(SideArg::B, spawn_side(SideArg::B, &dir)?)],
                    &dir,
                )?);
            }
            codes
        }
    };
    codes.sort_by_key(|(s, _)| s.dir());
    if let Some(code) = no_comparison(&codes, &dir) {
        return Ok(code);
    }
    let base = load(&dir.join("a"))?;
    let cand = load(&dir.join("b"))?;
    let mut c = crate::compare::compare(&base.report, &cand.report, a.warn, a.fail)
        .map_err(|e| Error::Monitor(format!("cannot compare the sides: {e}")))?;
    c.baseline.path = Some(dir.join("a").display().to_string());
    c.candidate.path = Some(dir.join("b").display().to_string());
    c.ab = Some(AbRun {
        order: a.order.name().into(),
        meaning: a.order.meaning(cfg.duration),
    });
    write_files(&c, &dir, [base.timeline.as_ref(), cand.timeline.as_ref()])?;
    let sides = [base.report.exit_code, cand.report.exit_code];
    let exit = if sides.contains(&exit_code::MONITOR_ERROR) {
        exit_code::MONITOR_ERROR
    } else if sides.contains(&exit_code::TARGET_FAILED) {
        exit_code::TARGET_FAILED
    } else {
        c.exit_code
    };
    let format = match a.run.verdict.format {
        Format::Text => CompareFormat::Text,
        Format::Json => CompareFormat::Json,
    };
    let preface = format!(
        "soak ab: order {} — {}\n",
        a.order.name(),
        a.order.meaning(cfg.duration)
    );
    print(&c, format, &preface, Some(&dir), exit);
    tell_ci(&c);
    Ok(exit)
}

/// When a side left no report: says why on stderr and returns the exit code (the
/// side's own, 2, 4 or 5; 3 when soak ab was stopped before B started).
fn no_comparison(codes: &[(SideArg, i32)], dir: &Path) -> Option<i32> {
    if let Some((side, code)) = codes.iter().find(|(s, _)| !has_report(dir, *s)) {
        console::err_line(&format!(
            "soak ab: side {} left no report (exit {code}; its error is above): no comparison",
            side.label()
        ));
        return Some(match *code {
            exit_code::USAGE | exit_code::TARGET_FAILED | exit_code::MONITOR_ERROR => *code,
            _ => exit_code::MONITOR_ERROR,
        });
    }
    if codes.len() < 2 {
        console::err_line(&plain(&format!(
            "soak ab: stopped before side B started: no comparison (side A's run is in {})",
            dir.join("a").display()
        )));
        return Some(exit_code::INCONCLUSIVE);
    }
    None
}
