//! The GitHub Action (`action.yml`), run locally step by step as the runner would
//! (tests/gha): a steady workload PASSes, a leaking one FAILs and fails the step after the
//! outputs are written, the step summary holds the report, the command's words are never
//! evaluated, bad inputs are one-line errors, and the install step both reuses a soak of
//! the same version on PATH and builds one with cargo.
//!
//! The cargo build of the install test is the real `cargo install --locked --path` of the
//! action, with `cargo-profile: dev` and a target directory kept under target/tmp, so that
//! only its first run on a clone pays for building soak's dependencies (about 2.5 CPU
//! minutes here); the release profile (fat LTO) is left to real workflows.

mod common;
mod gha;

use common::{report, workload};
use gha::{Action, Runner};
use std::path::{Path, PathBuf};

/// A workspace (holding one file) and runner temp dir, with PATH led by `first` (a directory holding soak,
/// or not) and otherwise free of any soak.
fn runner(d: &Path, first: Option<&Path>) -> Runner {
    let workspace = d.join("workspace");
    let temp = d.join("runner-temp");
    std::fs::create_dir_all(&workspace).expect("workspace");
    std::fs::create_dir_all(&temp).expect("runner temp");
    // Something for a `*` that reached a shell to match.
    std::fs::write(workspace.join("a-file"), "").expect("a file in the workspace");
    let mut dirs: Vec<PathBuf> = first.into_iter().map(Path::to_path_buf).collect();
    dirs.extend(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .filter(|p| !p.join("soak").exists()),
    );
    Runner {
        workspace,
        temp,
        path: std::env::join_paths(dirs)
            .expect("PATH")
            .to_string_lossy()
            .into_owned(),
        env: Vec::new(),
    }
}

/// The directory of the soak these tests built: its version is the action's.
fn built_soak_dir() -> PathBuf {
    common::soak().parent().expect("target dir").to_path_buf()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// The action run with `inputs`, reusing the soak these tests built.
struct Job {
    _dir: tempfile::TempDir,
    runner: Runner,
    run: gha::Run,
}

fn act(inputs: &[(&str, &str)]) -> Job {
    let dir = tmp();
    let runner = runner(dir.path(), Some(&built_soak_dir()));
    let run = runner.run(&gha::load(), inputs);
    Job {
        _dir: dir,
        runner,
        run,
    }
}

fn workload_cmd(args: &str) -> String {
    format!("{} {args}", workload().display())
}

/// Inputs of a short run: seconds, judged after 1 s at 30 MB/h.
fn short<'a>(command: &'a str, duration: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("command", command),
        ("duration", duration),
        ("interval", "100ms"),
        ("warmup", "1s"),
        ("max-growth-rate", "30MB/h"),
        ("args", "--quiet"),
    ]
}

#[test]
fn inputs_reach_the_scripts_through_env_only() {
    let a: Action = gha::load();
    for step in &a.steps {
        assert!(
            !step.run.contains("${{"),
            "step {}: an expression inside run: is script injection; pass it through env:",
            step.id
        );
    }
    // Every declared input is used, and every used input is declared (gha refuses others).
    for name in a.inputs.keys() {
        let used = a.steps.iter().any(|s| {
            s.env
                .iter()
                .any(|(_, v)| v.contains(&format!("inputs.{name} ")))
        });
        assert!(used, "input {name} is declared but no step reads it");
    }
    assert!(a.inputs["command"].required);
    for out in ["verdict", "exit-code", "report-dir", "soak-path"] {
        assert!(a.outputs.contains_key(out), "output {out} missing");
    }
}

#[test]
fn steady_workload_passes_reusing_the_soak_on_path() {
    let cmd = workload_cmd("steady 5");
    let Job {
        _dir,
        runner: r,
        run,
    } = act(&short(&cmd, "3s"));
    assert!(!run.failed(), "{}", run.show());
    let install = run.step("install");
    let soak = built_soak_dir().join("soak");
    run.assert_contains(&install.stdout, &format!("using {} (soak ", soak.display()));
    assert_eq!(run.output("soak-path"), soak.display().to_string());
    assert_eq!(run.output("verdict"), "PASS", "{}", run.show());
    assert_eq!(run.output("exit-code"), "0");
    // The default report directory is a new one under RUNNER_TEMP.
    let dir = PathBuf::from(run.output("report-dir"));
    assert!(dir.starts_with(&r.temp), "{}", dir.display());
    let rep = report(&dir);
    assert_eq!(rep["verdict"], "PASS");
    assert!(run.summary.contains("PASS"), "{}", run.summary);
    let explanation = rep["explanation"].as_str().expect("explanation");
    assert!(run.summary.contains(explanation), "{}", run.summary);
    // soak ran with the inputs' settings, not its defaults.
    assert_eq!(rep["settings"]["interval_s"], 0.1);
    assert_eq!(rep["settings"]["duration_s"], 3.0);
}

#[test]
fn leaking_workload_fails_the_step_after_writing_the_outputs() {
    let d = tmp();
    let r = runner(d.path(), Some(&built_soak_dir()));
    std::fs::create_dir_all(r.workspace.join("svc")).expect("svc dir");
    let cmd = workload_cmd("leak 5");
    let mut inputs = short(&cmd, "6s");
    inputs.extend([("working-directory", "svc"), ("out", "reports/leak")]);
    let run = r.run(&gha::load(), &inputs);
    assert!(run.failed(), "{}", run.show());
    assert_eq!(run.code(), 1, "{}", run.show());
    assert_eq!(run.output("verdict"), "FAIL", "{}", run.show());
    assert_eq!(run.output("exit-code"), "1");
    // A relative out is resolved in working-directory, and the output is absolute.
    let dir = r.workspace.join("svc/reports/leak");
    assert_eq!(run.output("report-dir"), dir.display().to_string());
    assert_eq!(report(&dir)["verdict"], "FAIL");
    assert!(run.summary.contains("FAIL"), "{}", run.summary);
    // soak's own annotation, for the runner to show on the workflow run.
    run.assert_contains(&run.step("run").stderr, "::error title=soak FAIL");
}

#[test]
fn fail_on_nonzero_false_keeps_the_step_green_and_names_a_target_failure() {
    // `false` exits at once: a target failure (exit 4), whose report.json still exists.
    let Job { _dir, run, .. } = act(&[
        ("command", "false"),
        ("duration", "5s"),
        ("fail-on-nonzero", "false"),
    ]);
    assert!(!run.failed(), "{}", run.show());
    assert_eq!(run.output("exit-code"), "4", "{}", run.show());
    assert_eq!(run.output("verdict"), "TARGET FAILED", "{}", run.show());
    let rep = report(Path::new(run.output("report-dir")));
    assert_eq!(rep["exit_code"], 4);
}

#[test]
fn command_words_are_never_evaluated() {
    // printf prints each argument it gets on a line: what soak started, word for word.
    let command = r#"printf '[%s]\n' '$(touch pwned)' "a b" ; * $HOME `id` x\ y "it's""#;
    let Job {
        _dir,
        runner: r,
        run,
    } = act(&[
        ("command", command),
        ("duration", "5s"),
        ("args", "--allow-exit --quiet"),
        ("fail-on-nonzero", "false"),
    ]);
    let dir = PathBuf::from(run.output("report-dir"));
    let printed = std::fs::read_to_string(dir.join("target.stdout.log"))
        .unwrap_or_else(|e| panic!("{e}\n{}", run.show()));
    assert_eq!(
        printed,
        "[$(touch pwned)]\n[a b]\n[;]\n[*]\n[$HOME]\n[`id`]\n[x y]\n[it's]\n",
        "{}",
        run.show()
    );
    assert!(!r.workspace.join("pwned").exists());
}

#[test]
fn shell_bash_runs_the_command_as_a_script_when_asked() {
    let Job {
        _dir,
        runner: r,
        run,
    } = act(&[
        ("command", "echo $((6 * 7)) > answer; exec sleep 30"),
        ("shell", "bash"),
        ("duration", "2s"),
        ("interval", "100ms"),
        ("args", "--quiet"),
    ]);
    assert!(!run.failed(), "{}", run.show());
    assert_eq!(run.output("verdict"), "PASS", "{}", run.show());
    let answer = std::fs::read_to_string(r.workspace.join("answer")).expect("answer");
    assert_eq!(answer, "42\n");
}

/// Runs the action with inputs that must fail before or in soak; returns the run.
fn rejected(inputs: &[(&str, &str)]) -> gha::Run {
    let Job { _dir, run, .. } = act(inputs);
    assert!(run.failed(), "{}", run.show());
    run
}

#[test]
fn bad_inputs_are_one_line_errors() {
    // (input, value, the error after "::error title=soak action::"); command is `true`
    // unless it is the input tried.
    for (name, value, error) in [
        (
            "command",
            r#"./server "unclosed"#,
            "input command cannot be split into words (unmatched double quote)",
        ),
        ("command", " \n ", "input command is empty"),
        (
            "args",
            "--name 'x",
            "input args cannot be split into words (unmatched single quote)",
        ),
        ("shell", "sh", "shell: 'sh' is not none or bash"),
        (
            "fail-on-nonzero",
            "yes",
            "fail-on-nonzero: 'yes' is not true or false",
        ),
        (
            "working-directory",
            "nowhere",
            "working-directory 'nowhere' cannot be entered",
        ),
        // An input's newline cannot end the annotation and start a workflow command.
        (
            "working-directory",
            "50%\n::notice::x",
            "working-directory '50%25%0A::notice::x' cannot",
        ),
        (
            "install",
            "docker",
            "install: 'docker' is not one of auto, cargo, path",
        ),
    ] {
        let mut inputs = vec![(name, value)];
        if name != "command" {
            inputs.push(("command", "true"));
        }
        let error = format!("::error title=soak action::{error}");
        let run = rejected(&inputs);
        assert_eq!(run.code(), 1, "{inputs:?}\n{}", run.show());
        let failing = run.steps.last().expect("a step ran");
        let line = failing
            .stdout
            .lines()
            .find(|l| l.starts_with("::error"))
            .unwrap_or_else(|| panic!("{inputs:?}: no error line\n{}", run.show()));
        assert!(line.starts_with(&error), "{inputs:?}: {line}");
        assert!(
            !failing.stdout.lines().any(|l| l.starts_with("::notice")),
            "{}",
            run.show()
        );
    }
}

#[test]
fn a_value_soak_refuses_is_its_usage_error_with_no_verdict() {
    // A value is passed as one --flag=VALUE word: the space does not smuggle in an option.
    let run = rejected(&[("command", "true"), ("duration", "10m --pid 1")]);
    assert_eq!(run.code(), 2, "{}", run.show());
    assert_eq!(run.output("exit-code"), "2");
    assert_eq!(run.output("verdict"), "NONE");
    run.assert_contains(&run.step("run").stderr, "--duration");
}

#[test]
fn install_path_needs_a_soak_on_path() {
    let d = tmp();
    let r = runner(d.path(), None);
    let run = r.run(&gha::load(), &[("command", "true"), ("install", "path")]);
    assert!(run.failed());
    assert_eq!(run.steps.len(), 1, "{}", run.show());
    run.assert_contains(
        &run.step("install").stdout,
        "::error title=soak action::install: path, but no soak on PATH",
    );
}

#[test]
fn install_builds_soak_with_cargo_when_the_one_on_path_is_another_version() {
    let d = tmp();
    // A soak of another version first on PATH: `install: auto` must not reuse it.
    let other = d.path().join("other-soak");
    std::fs::create_dir_all(&other).expect("dir");
    let fake = other.join("soak");
    std::fs::write(&fake, "#!/bin/sh\necho 'soak 0.0.0-other'\n").expect("fake soak");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut r = runner(d.path(), Some(&other));
    let root = d.path().join("cargo-root");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("action-install");
    r.env = vec![
        ("CARGO_INSTALL_ROOT".into(), root.display().to_string()),
        ("CARGO_TARGET_DIR".into(), target.display().to_string()),
        // No debug info: a smaller, faster link; the figures soak measures do not change.
        ("CARGO_PROFILE_DEV_DEBUG".into(), "0".into()),
    ];
    let cmd = workload_cmd("steady 5");
    let mut inputs = short(&cmd, "3s");
    inputs.push(("cargo-profile", "dev"));
    let run = r.run(&gha::load(), &inputs);
    assert!(!run.failed(), "{}", run.show());
    let installed = root.join("bin/soak");
    assert_eq!(run.output("soak-path"), installed.display().to_string());
    run.assert_contains(
        &run.step("install").stdout,
        &format!(
            "is soak 0.0.0-other, the action is {}",
            env!("CARGO_PKG_VERSION")
        ),
    );
    run.assert_contains(&run.step("install").stdout, "cargo install --locked");
    let version = std::process::Command::new(&installed)
        .arg("--version")
        .output()
        .expect("run the installed soak");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("soak {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(run.output("verdict"), "PASS", "{}", run.show());
}

#[test]
fn a_refused_run_into_an_out_that_holds_a_run_reports_no_verdict() {
    // soak refuses (exit 2) an `out` that already holds a run: the outputs must not
    // report that earlier run's verdict or directory.
    let dir = tmp();
    let runner = runner(dir.path(), Some(&built_soak_dir()));
    let out = dir.path().join("report");
    let out_s = out.display().to_string();
    let cmd = workload_cmd("steady 5");
    let mut inputs = short(&cmd, "2s");
    inputs.push(("out", &out_s));
    let first = runner.run(&gha::load(), &inputs);
    assert_eq!(first.output("verdict"), "PASS", "{}", first.show());
    assert_eq!(first.output("report-dir"), out_s);
    let second = runner.run(&gha::load(), &inputs);
    assert_eq!(second.output("exit-code"), "2", "{}", second.show());
    assert_eq!(second.output("verdict"), "NONE", "{}", second.show());
    assert_eq!(second.output("report-dir"), "", "{}", second.show());
}
