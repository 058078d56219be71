//! Runs the composite action in `action.yml` the way the GitHub runner does, on this
//! machine: each step's `env:` is evaluated (`${{ inputs.X }}` from the given inputs and
//! the declared defaults, `${{ steps.ID.outputs.X }}` from the steps before, and
//! `${{ github.action_path }}`), then its `run:` goes to `bash --noprofile --norc -eo
//! pipefail FILE` (what `shell: bash` means on the runner) with `GITHUB_OUTPUT` (one file
//! per step), `GITHUB_STEP_SUMMARY`, `GITHUB_ACTION_PATH` and `RUNNER_TEMP` set. A step
//! that fails stops the action, as on the runner, and the action's outputs are what its
//! `outputs:` expressions give.
//!
//! Any other expression is refused (the test fails) rather than guessed: the action must
//! stay within what this runner evaluates, so the test keeps meaning what it says.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

/// The action's repository root (what `GITHUB_ACTION_PATH` is on the runner).
pub fn action_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One input of `action.yml`.
#[derive(Debug)]
pub struct Input {
    pub required: bool,
    pub default: Option<String>,
}

/// One step of the composite action.
#[derive(Debug)]
pub struct Step {
    pub id: String,
    pub shell: String,
    pub env: Vec<(String, String)>,
    pub run: String,
}

/// `action.yml`, parsed.
#[derive(Debug)]
pub struct Action {
    pub inputs: BTreeMap<String, Input>,
    pub outputs: BTreeMap<String, String>,
    pub using: String,
    pub steps: Vec<Step>,
}

/// A scalar as the runner sees it: every input and env value is a string.
fn scalar(y: &Yaml, what: &str) -> String {
    match y {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Integer(i) => i.to_string(),
        other => panic!("{what}: expected a scalar, found {other:?}"),
    }
}

fn map<'a>(y: &'a Yaml, what: &str) -> Vec<(String, &'a Yaml)> {
    if y.is_badvalue() || y.is_null() {
        return Vec::new();
    }
    y.as_hash()
        .unwrap_or_else(|| panic!("{what}: expected a mapping, found {y:?}"))
        .iter()
        .map(|(k, v)| (scalar(k, what), v))
        .collect()
}

/// Parses the repository's `action.yml`.
pub fn load() -> Action {
    let path = action_path().join("action.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&text)
}

/// Parses the text of an `action.yml`.
pub fn parse(text: &str) -> Action {
    let docs = YamlLoader::load_from_str(text).expect("action.yml is YAML");
    let doc = docs.first().expect("action.yml has a document");
    let inputs = map(&doc["inputs"], "inputs")
        .into_iter()
        .map(|(name, v)| {
            let required = v["required"].as_bool().unwrap_or(false);
            let default = (!v["default"].is_badvalue()).then(|| scalar(&v["default"], &name));
            (name, Input { required, default })
        })
        .collect();
    let outputs = map(&doc["outputs"], "outputs")
        .into_iter()
        .map(|(name, v)| {
            let value = scalar(&v["value"], &format!("outputs.{name}.value"));
            (name, value)
        })
        .collect();
    let runs = &doc["runs"];
    let steps = runs["steps"]
        .as_vec()
        .expect("runs.steps is a list")
        .iter()
        .enumerate()
        .map(|(i, s)| Step {
            id: s["id"].as_str().map_or(format!("step{i}"), str::to_string),
            shell: scalar(&s["shell"], &format!("step {i} shell")),
            env: map(&s["env"], "env")
                .into_iter()
                .map(|(k, v)| (k.clone(), scalar(v, &k)))
                .collect(),
            run: scalar(&s["run"], &format!("step {i} run")),
        })
        .collect();
    Action {
        inputs,
        outputs,
        using: scalar(&runs["using"], "runs.using"),
        steps,
    }
}

/// What the expressions of a running action can read.
struct Context<'a> {
    inputs: &'a BTreeMap<String, String>,
    steps: &'a BTreeMap<String, BTreeMap<String, String>>,
    action_path: &'a Path,
}

impl Context<'_> {
    fn value(&self, expr: &str) -> String {
        let parts: Vec<&str> = expr.split('.').collect();
        match parts.as_slice() {
            ["inputs", name] => self
                .inputs
                .get(*name)
                .unwrap_or_else(|| panic!("${{{{ {expr} }}}}: no input {name} in action.yml"))
                .clone(),
            // An output a step did not write is the empty string, as on the runner.
            ["steps", id, "outputs", name] => self
                .steps
                .get(*id)
                .and_then(|o| o.get(*name))
                .cloned()
                .unwrap_or_default(),
            ["github", "action_path"] => self.action_path.display().to_string(),
            _ => panic!("${{{{ {expr} }}}} is not an expression this local runner evaluates"),
        }
    }

    /// `text` with each `${{ EXPR }}` replaced by its value.
    fn expand(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find("}}")
                .unwrap_or_else(|| panic!("unclosed ${{{{ in {text:?}"));
            out.push_str(&self.value(rest[start + 3..start + end].trim()));
            rest = &rest[start + end + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// One step as it ran.
#[derive(Debug)]
pub struct StepRun {
    pub id: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The action as it ran.
#[derive(Debug)]
pub struct Run {
    pub steps: Vec<StepRun>,
    /// The action's outputs, from its `outputs:` expressions.
    pub outputs: BTreeMap<String, String>,
    /// Whatever the steps appended to `GITHUB_STEP_SUMMARY`.
    pub summary: String,
}

impl Run {
    /// Whether a step failed (and so the action's step in the workflow).
    pub fn failed(&self) -> bool {
        self.steps.iter().any(|s| s.code != 0)
    }

    /// The exit code of the step that failed, 0 if none did.
    pub fn code(&self) -> i32 {
        self.steps
            .iter()
            .map(|s| s.code)
            .find(|&c| c != 0)
            .unwrap_or(0)
    }

    /// A step's run by id.
    pub fn step(&self, id: &str) -> &StepRun {
        self.steps
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("step {id} did not run:\n{}", self.show()))
    }

    /// Everything the steps printed, for assertion messages.
    pub fn show(&self) -> String {
        let mut s = String::new();
        for st in &self.steps {
            s.push_str(&format!(
                "--- step {} exited {}\nstdout:\n{}\nstderr:\n{}\n",
                st.id, st.code, st.stdout, st.stderr
            ));
        }
        s.push_str(&format!("outputs: {:?}\n", self.outputs));
        s
    }

    /// Asserts that `text` (something of this run) contains `needle`, showing the run if not.
    pub fn assert_contains(&self, text: &str, needle: &str) {
        assert!(
            text.contains(needle),
            "{needle:?} not found in:\n{}",
            self.show()
        );
    }

    /// An output of the action ("" if none).
    pub fn output(&self, name: &str) -> &str {
        self.outputs.get(name).map_or("", String::as_str)
    }
}

/// Reads a `GITHUB_OUTPUT` file: `name=value` lines and `name<<DELIMITER` blocks.
pub fn parse_output_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        } else if !line.is_empty() {
            panic!("GITHUB_OUTPUT line {line:?} is neither name=value nor name<<DELIMITER");
        }
    }
    out
}

/// Where and how to run the action.
pub struct Runner {
    /// The job's working directory (`GITHUB_WORKSPACE`).
    pub workspace: PathBuf,
    /// `RUNNER_TEMP`.
    pub temp: PathBuf,
    /// The steps' PATH.
    pub path: String,
    /// More environment of the job (`env:` of the workflow).
    pub env: Vec<(String, String)>,
}

impl Runner {
    /// Runs the action with `given` inputs (each must be declared in action.yml).
    pub fn run(&self, action: &Action, given: &[(&str, &str)]) -> Run {
        assert_eq!(
            action.using, "composite",
            "this runner runs composite actions"
        );
        let mut inputs = BTreeMap::new();
        for (name, input) in &action.inputs {
            if let Some(d) = &input.default {
                inputs.insert(name.clone(), d.clone());
            }
        }
        for (name, value) in given {
            assert!(
                action.inputs.contains_key(*name),
                "input {name} is not declared in action.yml"
            );
            inputs.insert(name.to_string(), value.to_string());
        }
        for (name, input) in &action.inputs {
            assert!(
                !input.required || inputs.contains_key(name),
                "required input {name} not given"
            );
        }
        let summary = self.temp.join("step_summary.md");
        let action_path = action_path();
        let mut step_outputs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut runs = Vec::new();
        for (i, step) in action.steps.iter().enumerate() {
            assert_eq!(
                step.shell, "bash",
                "step {}: only shell: bash is run here",
                step.id
            );
            let ctx = Context {
                inputs: &inputs,
                steps: &step_outputs,
                action_path: &action_path,
            };
            let script = self.temp.join(format!("step{i}.sh"));
            std::fs::write(&script, &step.run).expect("write the step's script");
            let output_file = self.temp.join(format!("step{i}.output"));
            std::fs::write(&output_file, "").expect("create GITHUB_OUTPUT");
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script)
                .current_dir(&self.workspace);
            // The job's environment, less whatever GitHub variables the test itself ran under.
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("GITHUB_") {
                    cmd.env_remove(k);
                }
            }
            cmd.env("PATH", &self.path)
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_WORKSPACE", &self.workspace)
                .env("GITHUB_ACTION_PATH", &action_path)
                .env("GITHUB_OUTPUT", &output_file)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("RUNNER_TEMP", &self.temp)
                .envs(self.env.iter().map(|(k, v)| (k, v)));
            for (k, v) in &step.env {
                cmd.env(k, ctx.expand(v));
            }
            let o = cmd.output().expect("run bash");
            let written = std::fs::read_to_string(&output_file).expect("read GITHUB_OUTPUT");
            step_outputs.insert(step.id.clone(), parse_output_file(&written));
            runs.push(StepRun {
                id: step.id.clone(),
                code: o.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            });
            if !o.status.success() {
                break;
            }
        }
        let ctx = Context {
            inputs: &inputs,
            steps: &step_outputs,
            action_path: &action_path,
        };
        let outputs = action
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), ctx.expand(v)))
            .collect();
        Run {
            steps: runs,
            outputs,
            summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_file_forms() {
        let o = parse_output_file("a=1\nb<<EOF\nx\ny=z\nEOF\nc=\n");
        assert_eq!(o["a"], "1");
        assert_eq!(o["b"], "x\ny=z");
        assert_eq!(o["c"], "");
    }

    #[test]
    fn expressions_are_evaluated_or_refused() {
        let inputs = BTreeMap::from([("x".to_string(), "1".to_string())]);
        let steps = BTreeMap::from([(
            "s".to_string(),
            BTreeMap::from([("o".to_string(), "2".to_string())]),
        )]);
        let ctx = Context {
            inputs: &inputs,
            steps: &steps,
            action_path: Path::new("/a"),
        };
        assert_eq!(
            ctx.expand("${{ inputs.x }}-${{steps.s.outputs.o}}-${{ steps.t.outputs.o }}-${{ github.action_path }}"),
            "1-2--/a"
        );
        let refused = std::panic::catch_unwind(|| ctx.expand("${{ github.event.issue.title }}"));
        assert!(refused.is_err());
    }
}
