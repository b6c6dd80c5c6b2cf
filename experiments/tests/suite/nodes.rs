//! Training over several nodes on 127.0.0.1 (Burn's multi-node collective, an orchestrator
//! process and one process per node): two nodes give the run of one process with two devices;
//! a killed node makes the other stop with a clear error within the peer timeout, and both
//! resume from the last checkpoint to the uninterrupted run's model.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn experiments() -> Command {
    Command::new(env!("CARGO_BIN_EXE_experiments"))
}

/// A port free at the time of asking.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Child processes killed when the test ends, whichever way.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An orchestrator on a free port, listening when this returns.
fn orchestrator(children: &mut Children) -> String {
    let port = free_port();
    children.0.push(
        experiments()
            .args(["orchestrator", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the orchestrator did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    format!("ws://127.0.0.1:{port}")
}

/// A run of the topic data: 48 queries, 8 a step, two epochs (12 steps), a checkpoint every
/// step.
fn config(root: &Path) -> PathBuf {
    let (data, _) = rankwise_tests::make_data(root, 0..48, 0..0);
    let file = rankwise_tests::topic_run(root, &data, "unused");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("epochs = 2\ncheckpoint_every = 1\n{text}")).unwrap();
    file
}

/// `experiments train` as node `rank` of two (one device each) into `out`.
fn node(config: &Path, out: &Path, rank: u32, orchestrator: &str, extra: &[&str]) -> Command {
    let mut cmd = experiments();
    cmd.arg("train")
        .arg("--config")
        .arg(config)
        .arg("--output-dir")
        .arg(out)
        .args(["--quiet", "--nodes", "2", "--node-rank", &rank.to_string()])
        .args(["--orchestrator", orchestrator, "--node-address"])
        .arg(format!("ws://127.0.0.1:{}", free_port()))
        .args(["--peer-timeout", "10"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for `child`, returning whether it succeeded and its standard error.
fn finish(child: Child) -> (bool, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Both nodes run to the end.
fn run_nodes(config: &Path, out: &Path, extra: &[&str]) {
    let mut children = Children(Vec::new());
    let orch = orchestrator(&mut children);
    let a = node(config, out, 0, &orch, extra).spawn().unwrap();
    let b = node(config, out, 1, &orch, extra).spawn().unwrap();
    let (ok_a, err_a) = finish(a);
    let (ok_b, err_b) = finish(b);
    assert!(ok_a && ok_b, "node 0:\n{err_a}\nnode 1:\n{err_b}");
}

/// Losses of `metrics.jsonl` and the exported parameters of a finished run.
fn result(out: &Path) -> (Vec<f64>, BTreeMap<String, Vec<f32>>) {
    let losses = std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"]
                .as_f64()
                .unwrap()
        })
        .collect();
    (
        losses,
        rankwise_tests::safetensors_f32(&out.join("model/model.safetensors")),
    )
}

fn assert_same(a: &Path, b: &Path) {
    let (la, pa) = result(a);
    let (lb, pb) = result(b);
    rankwise_tests::assert_same_run((&la, &pa), (&lb, &pb), &b.display().to_string());
}

#[test]
fn two_nodes_equal_two_devices_and_a_killed_node_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());

    // One process, two devices, concurrent peers.
    let devices = dir.path().join("devices");
    let out = experiments()
        .arg("train")
        .arg("--config")
        .arg(&config)
        .arg("--output-dir")
        .arg(&devices)
        .args(["--quiet", "--devices", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Two processes as two nodes.
    let nodes = dir.path().join("nodes");
    run_nodes(&config, &nodes, &[]);
    assert_same(&devices, &nodes);

    // Node 1 killed after a few steps: node 0 stops with an error naming the cause, in bounded
    // time; both resume from the last checkpoint to the same model.
    let killed = dir.path().join("killed");
    {
        let mut children = Children(Vec::new());
        let orch = orchestrator(&mut children);
        let a = node(&config, &killed, 0, &orch, &[]).spawn().unwrap();
        let mut b = node(&config, &killed, 1, &orch, &[]).spawn().unwrap();
        let metrics = killed.join("metrics.jsonl");
        let start = Instant::now();
        while std::fs::read_to_string(&metrics).map_or(0, |t| t.lines().count()) < 3 {
            assert!(start.elapsed() < Duration::from_secs(120), "no progress");
            std::thread::sleep(Duration::from_millis(20));
        }
        b.kill().unwrap();
        b.wait().unwrap();
        let killed_at = Instant::now();
        let (ok, err) = finish(a);
        let waited = killed_at.elapsed();
        assert!(!ok, "node 0 went on without node 1");
        assert!(
            err.contains("data-parallel run") && err.contains("a node or device has stopped"),
            "{err}"
        );
        assert!(
            waited < Duration::from_secs(60),
            "node 0 took {waited:?} to stop"
        );
        let done = std::fs::read_to_string(&metrics).unwrap().lines().count();
        assert!(done < 12, "the run finished before the kill");
    }
    run_nodes(&config, &killed, &["--resume"]);
    assert_same(&nodes, &killed);
}
