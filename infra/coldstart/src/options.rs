//! The command line: what to run, how often, and where things are.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: coldstart [options]

Runs every function in functions/* (or --only) N times as Lambda would start it and prints
init / first-invoke time, peak RSS, CPU time and binary size per function.
Build the binaries first: CARGO_TARGET_DIR=target/lambda cargo build --release -p <function>...
With ingest, it also runs its Python peer (infra/coldstart/peer: the same first request with
boto3 under awslambdaric) and prints the ratios of the medians, ours / peer.

options:
  --runs N            measured runs per function (default 20)
  --warmup N          discarded runs before them (default 1)
  --only a,b          only these functions
  --bin-dir DIR       where the release binaries are (default $CARGO_TARGET_DIR/release,
                      else <workspace>/target/lambda/release)
  --event NAME=FILE   event for function NAME (default events/NAME.json, else a minimal
                      API Gateway v2 event); the peer gets ingest's
  --env KEY=VALUE     extra environment for every function (repeatable), e.g. RUST_LOG=off
  --memory MB         AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 256, as template.yaml)
  --timeout SECS      per-run limit (default 30)
  --strict            exit 1 when a goal (init median <= 4 ms, bootstrap <= 8 MB) is missed
  --root DIR          workspace root (default: the one this tool was built from)
  --wrap 'CMD ARGS'   run each binary under CMD (for profiling, e.g. 'strace -f -ttt -o /tmp/s');
                      RSS and CPU then describe CMD and its children
  --no-peer           do not run the Python peer
  --peer-python PATH  the peer's Python (default <root>/.venv/bench-peer/bin/python, made by
                      infra/venv.sh bench-peer)
";

#[derive(Debug)]
pub struct Options {
    pub runs: usize,
    pub warmup: usize,
    pub only: Option<Vec<String>>,
    pub bin_dir: Option<PathBuf>,
    pub events: BTreeMap<String, PathBuf>,
    pub env: Vec<(String, String)>,
    pub memory: u32,
    pub timeout: Duration,
    pub strict: bool,
    pub root: PathBuf,
    pub wrap: Vec<String>,
    pub peer: bool,
    pub peer_python: Option<PathBuf>,
}

/// The command line without the program name; `-h`/`--help` prints the usage and exits.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        runs: 20,
        warmup: 1,
        only: None,
        bin_dir: None,
        events: BTreeMap::new(),
        env: Vec::new(),
        memory: 256,
        timeout: Duration::from_secs(30),
        strict: false,
        root: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")),
        wrap: Vec::new(),
        peer: true,
        peer_python: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let pair = |text: String| {
            text.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or(format!("expected NAME=VALUE, got {text:?}"))
        };
        let number = |text: String| text.parse::<u64>().map_err(|e| format!("{text:?}: {e}"));
        match arg.as_str() {
            "--runs" => options.runs = number(value(&arg)?)?.max(1) as usize,
            "--warmup" => options.warmup = number(value(&arg)?)? as usize,
            "--only" => options.only = Some(value(&arg)?.split(',').map(str::to_string).collect()),
            "--bin-dir" => options.bin_dir = Some(value(&arg)?.into()),
            "--event" => {
                let (name, file) = pair(value(&arg)?)?;
                options.events.insert(name, file.into());
            }
            "--env" => options.env.push(pair(value(&arg)?)?),
            "--memory" => options.memory = number(value(&arg)?)? as u32,
            "--timeout" => options.timeout = Duration::from_secs(number(value(&arg)?)?),
            "--strict" => options.strict = true,
            "--root" => options.root = value(&arg)?.into(),
            "--wrap" => {
                options.wrap = value(&arg)?
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            }
            "--no-peer" => options.peer = false,
            "--peer-python" => options.peer_python = Some(value(&arg)?.into()),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    options.root = options
        .root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", options.root.display()))?;
    Ok(options)
}

impl Options {
    /// `--bin-dir`, else `$CARGO_TARGET_DIR/release`, else `<root>/target/lambda/release`;
    /// relative to the root.
    pub fn bin_dir(&self) -> PathBuf {
        let bin_dir = match &self.bin_dir {
            Some(dir) => dir.clone(),
            None => match std::env::var_os("CARGO_TARGET_DIR") {
                Some(dir) => PathBuf::from(dir).join("release"),
                None => self.root.join("target/lambda/release"),
            },
        };
        if bin_dir.is_absolute() {
            bin_dir
        } else {
            self.root.join(bin_dir)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn defaults() {
        let options = parse_args(&[]).unwrap();
        assert_eq!((options.runs, options.warmup, options.memory), (20, 1, 256));
        assert_eq!(options.timeout, Duration::from_secs(30));
        assert!(options.peer && !options.strict && options.wrap.is_empty());
        assert!(options.root.join("functions").is_dir());
    }

    #[test]
    fn reads_every_option() {
        let options = parse_args(
            &"--runs 0 --warmup 2 --only ingest,list-logs --event ingest=events/x.json \
              --env RUST_LOG=off --memory 512 --timeout 5 --strict --no-peer \
              --peer-python /usr/bin/python3 --bin-dir target/x --wrap"
                .split_whitespace()
                .chain(["strace -f"])
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert_eq!(options.runs, 1, "at least one run");
        assert_eq!(options.warmup, 2);
        assert_eq!(options.only.unwrap(), ["ingest", "list-logs"]);
        assert_eq!(options.events["ingest"], PathBuf::from("events/x.json"));
        assert_eq!(options.env, [("RUST_LOG".to_string(), "off".to_string())]);
        assert_eq!((options.memory, options.timeout.as_secs()), (512, 5));
        assert!(options.strict && !options.peer);
        assert_eq!(options.wrap, ["strace", "-f"]);
        assert_eq!(
            options.peer_python.unwrap(),
            PathBuf::from("/usr/bin/python3")
        );
        assert_eq!(options.bin_dir.clone().unwrap(), PathBuf::from("target/x"));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(
            parse_args(&["--runs"])
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(parse_args(&["--runs", "x"]).is_err());
        assert!(
            parse_args(&["--env", "NOVALUE"])
                .unwrap_err()
                .contains("NAME=VALUE")
        );
        assert!(
            parse_args(&["--frobnicate"])
                .unwrap_err()
                .contains("unknown argument")
        );
    }
}
