//! Adversarial candidates: each must be contained, score 0, and leave this (the trainer's)
//! process unharmed. Skipped, with a message, when `python3` is unavailable.

use std::time::{Duration, Instant};

use fedmoa_core::{Prompt, Reference, RewardFn};
use fedmoa_rewards::rewards::{PythonTests, PythonTestsConfig};
use fedmoa_rewards::sandbox::{IsolationMode, SandboxLimits};

const SECRET_VAR: &str = "FEDMOA_SANDBOX_TEST_SECRET";
const SECRET: &str = "s3cr3t-5a1f0e";

/// A reward with short limits so the timeouts below stay quick; `None` when no python3.
fn reward(isolation: IsolationMode) -> Option<PythonTests> {
    let config = PythonTestsConfig {
        workers: Some(2),
        isolation,
        limits: SandboxLimits {
            wall_ms: 2_000,
            cpu_s: 1,
            memory_mb: 256,
            ..SandboxLimits::default()
        },
        ..PythonTestsConfig::default()
    };
    match config.build() {
        Ok(r) => {
            let s = r.sandbox();
            eprintln!(
                "sandbox isolation: {:?}, runs as uid {:?}",
                s.isolation(),
                s.drops_to_uid()
            );
            Some(r)
        }
        Err(e) => {
            eprintln!("skipping the sandbox adversarial tests: {e}");
            None
        }
    }
}

/// `f(x) = x + 1` checked by three asserts; the setup stores the secret path for one test.
fn prompt(asserts: &[&str]) -> Prompt {
    Prompt {
        id: "adv".into(),
        task: "code".into(),
        text: "Write f(x) returning x + 1.".into(),
        reference: Reference::PythonTests {
            setup: String::new(),
            asserts: asserts.iter().map(|s| s.to_string()).collect(),
        },
        solution: None,
    }
}

const TESTS: [&str; 3] = ["assert f(1) == 2", "assert f(2) == 3", "assert f(10) == 11"];

/// Defines `f` correctly only when `attack` (which sets `ok`) succeeded.
fn gated(attack: &str) -> String {
    format!(
        "ok = False\ntry:\n{attack}\nexcept BaseException:\n    pass\ndef f(x):\n    return x + 1 if ok else 0\n"
    )
}

/// Every adversarial candidate scores 0, nothing is written outside, and this process
/// survives; a correct candidate still scores 1 afterwards.
fn check_contained(reward: &PythonTests) {
    let outside = tempfile::tempdir().expect("a temporary directory");
    let target = outside.path().join("pwned.txt");
    let (dir, file) = (
        outside.path().display().to_string(),
        target.display().to_string(),
    );
    let p = prompt(&TESTS);
    let candidates: Vec<(&str, String)> = vec![
        ("infinite loop", "while True:\n    pass".into()),
        ("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except Exception:\n        pass".into()),
        ("subprocess", gated("    import subprocess\n    subprocess.run(['true'])\n    ok = True")),
        ("memory bomb", "x = []\nwhile True:\n    x.append(bytearray(10**7))".into()),
        ("write outside", gated(&format!("    open({file:?}, 'w').write('x')\n    ok = True"))),
        ("write via dir_fd", gated(&format!("    import os\n    d = os.open({dir:?}, os.O_RDONLY)\n    os.close(os.open('pwned.txt', os.O_WRONLY | os.O_CREAT, dir_fd=d))\n    ok = True"))),
        ("pathlib write outside", gated(&format!("    import pathlib\n    pathlib.Path({file:?}).write_text('x')\n    ok = True"))),
        ("bytes path into /proc", gated("    import os\n    open(b'/proc/1/environ', 'rb').read()\n    open('/proc/%d/environ' % os.getppid(), 'rb').read()\n    ok = True")),
        ("chmod the sandbox", gated("    import os\n    os.chmod('.', 0)\n    ok = True")),
        ("symlink out", gated(&format!("    import os\n    os.symlink({file:?}, 'link')\n    open('link', 'w').write('x')\n    ok = True"))),
        ("network", gated("    import socket\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\n    ok = True")),
        ("kill parent", "import os, signal\nfor pid in (os.getppid(), 0, -1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n    except Exception:\n        pass\ndef f(x):\n    return 0".into()),
        ("huge output", "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)".into()),
        ("exit before asserts", "def f(x):\n    return x + 1\nimport sys\nsys.exit(0)".into()),
        ("os._exit before asserts", "def f(x):\n    return x + 1\nimport os\nos._exit(0)".into()),
        ("forged report", "import os\nfor fd in range(1, 10):\n    for i in range(3):\n        try:\n            os.write(fd, b'ready -1 1\\npass %d 1\\ndone -1 1\\n' % i)\n        except OSError:\n            pass\nprint('pass 0 1')\nos._exit(0)".into()),
        ("patched builtins", "import builtins\nclass Yes(Exception):\n    pass\nbuiltins.AssertionError = Yes\nbuiltins.int = lambda *a: 0\nbuiltins.len = lambda x: 3\ndef f(x):\n    return None".into()),
        ("shadowed builtins", "def f(x):\n    return None\nclass Eq:\n    pass\nAssertionError = Eq".into()),
        ("exit inside the test", "def f(x):\n    raise SystemExit(0)".into()),
        ("ctypes", gated("    import ctypes\n    ctypes.CDLL(None).getpid()\n    ok = True")),
    ];
    let start = Instant::now();
    let batch: Vec<(&Prompt, &str)> = candidates.iter().map(|(_, c)| (&p, c.as_str())).collect();
    let scores = reward.score_batch(&batch);
    let elapsed = start.elapsed();
    for ((name, _), score) in candidates.iter().zip(&scores) {
        assert_eq!(*score, Ok(0.0), "{name}");
    }
    assert!(!target.exists(), "a candidate wrote outside its directory");
    // 20 candidates, 2 at a time, the slow ones bounded by the 2 s wall clock.
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    // Still alive, and a correct candidate still scores 1 (so the zeros above are real).
    assert_eq!(reward.score(&p, "def f(x):\n    return x + 1"), Ok(1.0));
    let honest: Vec<(&Prompt, &str)> =
        vec![(&p, "ok = True\ndef f(x):\n    return x + 1 if ok else 0\n")];
    assert_eq!(reward.score_batch(&honest), vec![Ok(1.0)]);
}

#[test]
fn adversarial_candidates_are_contained() {
    if let Some(reward) = reward(IsolationMode::Auto) {
        check_contained(&reward);
    }
}

#[test]
fn adversarial_candidates_are_contained_without_namespaces() {
    if let Some(reward) = reward(IsolationMode::None) {
        check_contained(&reward);
    }
}

/// Defines a correct `f` only if the secret is visible: in its own environment or in any
/// `/proc/<pid>/environ` it can read (the parent's included).
fn env_probe() -> String {
    format!(
        "import os\nseen = os.environ.get({SECRET_VAR:?}, '')\nfor pid in os.listdir('/proc'):\n    try:\n        seen += open('/proc/%s/environ' % pid).read()\n    except Exception:\n        pass\nif {SECRET:?} in seen:\n    def f(x):\n        return x + 1\nelse:\n    def f(x):\n        return 0\n"
    )
}

/// Re-runs this test binary with the secret in its environment (edition 2024 forbids
/// `set_var` without `unsafe`), where [`secret_probe_child`] does the check.
#[test]
fn the_parent_environment_is_invisible() {
    if reward(IsolationMode::Auto).is_none() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "secret_probe_child", "--ignored", "--nocapture"])
        .env(SECRET_VAR, SECRET)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

/// Run by [`the_parent_environment_is_invisible`] with the secret set.
#[test]
#[ignore = "spawned by the_parent_environment_is_invisible with the secret set"]
fn secret_probe_child() {
    assert_eq!(std::env::var(SECRET_VAR).as_deref(), Ok(SECRET));
    let reward = reward(IsolationMode::Auto).unwrap();
    let probe = env_probe();
    // Control: unsandboxed, with the environment inherited, the probe does find the secret.
    let python = &reward.sandbox().interpreter().path;
    let out = std::process::Command::new(python)
        .args(["-c", &format!("{probe}print(f(1))")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    assert_eq!(reward.score(&prompt(&TESTS), &probe), Ok(0.0));
}
