//! Adversarial candidates: each must be contained, score 0, and leave this (the trainer's)
//! process unharmed; reward forgeries (objects whose `__eq__` lies, forged result lines,
//! frame walks to the nonce) must score 0; candidates never run as root. Skipped, with a
//! message, when `python3` is unavailable.

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
        check_forgeries(&reward);
    }
}

#[test]
fn adversarial_candidates_are_contained_without_namespaces() {
    if let Some(reward) = reward(IsolationMode::None) {
        check_contained(&reward);
        check_forgeries(&reward);
    }
}

/// `g(x) = [x, (x, x), {x: x}, {x}]`: a list holding a tuple, a dict and a set.
const NESTED: [&str; 3] = [
    "assert g(1) == [1, (1, 1), {1: 1}, {1}]",
    "assert g(2) == [2, (2, 2), {2: 2}, {2}]",
    "assert g(3) == [3, (3, 3), {3: 3}, {3}]",
];

/// Classes whose comparisons lie: `A == anything`, `H` also hashes like 1..3 so that it
/// finds its way into sets and dict keys.
const LIARS: &str = "class A:\n    def __eq__(self, o):\n        return True\n    __hash__ = None\nclass H:\n    def __init__(self, v):\n        self.v = v\n    def __hash__(self):\n        return hash(self.v)\n    def __eq__(self, o):\n        return True\n";

/// Reward forgeries: each really passes the asserts in plain Python (checked here,
/// unsandboxed), and each must score 0 in the sandbox, where the honest solution scores 1.
fn check_forgeries(reward: &PythonTests) {
    let flat = prompt(&TESTS);
    let nested = prompt(&NESTED);
    let forged_f: Vec<(&str, String)> = vec![
        ("__eq__ always true", "class A:\n    def __eq__(self, o):\n        return True\ndef f(x):\n    return A()".into()),
        ("int subclass", "class I(int):\n    def __eq__(self, o):\n        return True\ndef f(x):\n    return I(0)".into()),
        ("__ne__ too", "class N:\n    def __eq__(self, o):\n        return True\n    def __ne__(self, o):\n        return False\ndef f(x):\n    return N()".into()),
        ("__eq__ returns a truthy object", "class T:\n    def __bool__(self):\n        return True\nclass A:\n    def __eq__(self, o):\n        return T()\ndef f(x):\n    return A()".into()),
        ("float subclass", "class F(float):\n    def __eq__(self, o):\n        return True\ndef f(x):\n    return F(0)".into()),
        ("str subclass", "class S(str):\n    def __eq__(self, o):\n        return True\ndef f(x):\n    return S('')".into()),
        ("list subclass", "class L(list):\n    def __eq__(self, o):\n        return True\ndef f(x):\n    return L()".into()),
        ("bool subclass of int", "class B(int):\n    __eq__ = lambda s, o: True\n    __hash__ = int.__hash__\ndef f(x):\n    return B(x)".into()),
        ("spoofed __class__", "class A:\n    __class__ = int\n    def __eq__(self, o):\n        return True\ndef f(x):\n    return A()".into()),
        ("patched builtins", "import builtins\nclass A:\n    def __eq__(self, o):\n        return True\nbuiltins.type = lambda *a: int\nbuiltins.isinstance = lambda *a: True\nbuiltins.sorted = lambda *a, **k: []\nbuiltins.len = lambda *a: 0\ndef f(x):\n    return A()".into()),
        ("patched int.__eq__ and hashlib", "import hashlib\nclass A:\n    def __eq__(self, o):\n        return True\ntry:\n    int.__eq__ = lambda a, b: True\nexcept TypeError:\n    pass\nhashlib.sha256 = lambda *a: None\ndef f(x):\n    return A()".into()),
        ("patched Counter.__eq__", "import collections\ncollections.Counter.__eq__ = lambda a, b: True\ndef f(x):\n    return collections.Counter()".into()),
    ];
    let forged_g: Vec<(&str, String)> = vec![
        (
            "liar in a list",
            format!("{LIARS}def g(x):\n    return [A(), (x, x), {{x: x}}, {{x}}]"),
        ),
        (
            "liar in a tuple in a list",
            format!("{LIARS}def g(x):\n    return [x, (x, A()), {{x: x}}, {{x}}]"),
        ),
        (
            "liar as a dict value",
            format!("{LIARS}def g(x):\n    return [x, (x, x), {{x: A()}}, {{x}}]"),
        ),
        (
            "liar as a dict key",
            format!("{LIARS}def g(x):\n    return [x, (x, x), {{H(x): x}}, {{x}}]"),
        ),
        (
            "liar in a set",
            format!("{LIARS}def g(x):\n    return [x, (x, x), {{x: x}}, {{H(x)}}]"),
        ),
        (
            "list subclass around",
            format!(
                "{LIARS}class L(list):\n    pass\ndef g(x):\n    return L([x, (x, x), {{x: x}}, {{x}}])"
            ),
        ),
    ];
    // Control: every forgery passes its asserts in plain Python (no sandbox).
    let python = &reward.sandbox().interpreter().path;
    for (asserts, forged) in [(&TESTS, &forged_f), (&NESTED, &forged_g)] {
        for (name, program) in forged {
            let source = format!("{program}\n{}\n", asserts.join("\n"));
            let status = std::process::Command::new(python)
                .args(["-S", "-c", &source])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .expect("the interpreter runs");
            assert!(status.success(), "{name} does not forge plain Python");
        }
    }
    // Digests of the right answers (2, 3, 11) written as results, without the nonce.
    let forged_lines = "import hashlib, os\nd = [hashlib.sha256(s).hexdigest() for s in (b'i2;', b'i3;', b'ib;')]\nfor fd in range(1, 11):\n    for pid in (1, os.getpid()):\n        try:\n            os.write(fd, ('ready -1 %d\\n' % pid).encode())\n            for i in range(3):\n                os.write(fd, ('value %d %d %s\\n' % (i, pid, d[i])).encode())\n                os.write(fd, ('pass %d %d\\n' % (i, pid)).encode())\n        except OSError:\n            pass\nos._exit(0)".to_string();
    let outside = tempfile::tempdir().expect("a temporary directory");
    let answers = outside.path().join("answers.txt");
    std::fs::write(&answers, "2 3 11").expect("a file outside the sandbox");
    let db = outside.path().join("x.db");
    let written = outside.path().join("pwned.txt");
    let mut in_sandbox: Vec<(&str, &Prompt, String)> = Vec::new();
    for (name, program) in forged_f {
        in_sandbox.push((name, &flat, program));
    }
    for (name, program) in forged_g {
        in_sandbox.push((name, &nested, program));
    }
    let attacks: Vec<(&str, String)> = vec![
        ("forged value lines", forged_lines),
        (
            "frame walk: inspect",
            gated(
                "    import inspect\n    inspect.currentframe().f_back.f_locals['nonce']\n    ok = True",
            ),
        ),
        (
            "frame walk: sys._getframe",
            gated("    import sys\n    sys._getframe(1).f_locals['nonce']\n    ok = True"),
        ),
        (
            "frame walk: traceback",
            gated(
                "    try:\n        raise ValueError\n    except ValueError as e:\n        e.__traceback__.tb_frame.f_back.f_locals['nonce']\n    ok = True",
            ),
        ),
        (
            "frame walk: other threads",
            gated("    import sys\n    sys._current_frames()\n    ok = True"),
        ),
        (
            "frame walk: signal handler",
            gated(
                "    import signal\n    got = []\n    signal.signal(signal.SIGUSR1, lambda s, f: got.append(f.f_back.f_locals['nonce']))\n    signal.raise_signal(signal.SIGUSR1)\n    ok = bool(got)",
            ),
        ),
        (
            "frame walk: fresh signal module",
            gated(
                "    import sys\n    del sys.modules['_signal']\n    import _signal\n    _signal.signal(10, lambda s, f: None)\n    ok = True",
            ),
        ),
        (
            "own audit hook",
            gated(
                "    import sys\n    seen = []\n    sys.addaudithook(lambda e, a: seen.append(e))\n    compile('1', 'x', 'eval')\n    ok = bool(seen)",
            ),
        ),
        (
            "own memory",
            gated("    open('/proc/self/mem', 'rb')\n    ok = True"),
        ),
        (
            "own page map",
            gated("    open('/proc/self/pagemap', 'rb')\n    ok = True"),
        ),
        (
            "thread memory",
            gated("    open('/proc/thread-self/mem', 'rb')\n    ok = True"),
        ),
        (
            "reopen the channel",
            gated(
                "    for n in range(3, 8):\n        try:\n            open('/proc/self/fd/%d' % n, 'rb')\n            ok = True\n        except FileNotFoundError:\n            pass\n    assert ok",
            ),
        ),
        (
            "write outside, hook patched",
            gated(&format!(
                "    import builtins\n    builtins.isinstance = lambda *a: False\n    builtins.all = builtins.any = lambda *a: True\n    open({:?}, 'w').write('x')\n    ok = True",
                written.display().to_string()
            )),
        ),
        (
            "read the answers, hook patched",
            gated(&format!(
                "    import builtins, os, posixpath\n    builtins.isinstance = lambda *a: False\n    builtins.len = lambda *a: 0\n    builtins.all = builtins.any = lambda *a: True\n    real = os.path.realpath\n    posixpath.realpath = os.path.realpath = lambda *a, **k: os.getcwd()\n    os.lstat = os.stat = lambda *a, **k: real\n    f = open({:?})\n    builtins.len = len\n    f.read()\n    ok = True",
                answers.display().to_string()
            )),
        ),
        (
            "read the answers",
            gated(&format!(
                "    open({:?}).read()\n    ok = True",
                answers.display().to_string()
            )),
        ),
        (
            "native module from the temp dir",
            gated(
                "    import importlib.machinery, importlib.util, shutil\n    so = 'copy' + importlib.machinery.EXTENSION_SUFFIXES[0]\n    shutil.copy(importlib.util.find_spec('_json').origin, so)\n    importlib.util.module_from_spec(importlib.util.spec_from_file_location('_json', so))\n    ok = True",
            ),
        ),
        ("_testcapi", gated("    import _testcapi\n    ok = True")),
        (
            "hand-made bytecode",
            gated("    c = (lambda: 0).__code__\n    c.replace(co_code=c.co_code)\n    ok = True"),
        ),
        (
            "sqlite outside",
            gated(&format!(
                "    import sqlite3\n    sqlite3.connect({:?}).execute('create table t (x)')\n    ok = True",
                db.display().to_string()
            )),
        ),
    ];
    for (name, program) in attacks {
        in_sandbox.push((name, &flat, program));
    }
    let batch: Vec<(&Prompt, &str)> = in_sandbox
        .iter()
        .map(|(_, p, c)| (*p, c.as_str()))
        .collect();
    let scores = reward.score_batch(&batch);
    for ((name, _, _), score) in in_sandbox.iter().zip(&scores) {
        assert_eq!(*score, Ok(0.0), "{name}");
    }
    assert!(!db.exists(), "sqlite wrote outside the sandbox");
    assert!(
        !written.exists(),
        "a patched hook let a candidate write outside"
    );
    // The honest solutions score 1; every assert here is checked outside the candidate.
    assert_eq!(reward.score(&flat, "def f(x):\n    return x + 1"), Ok(1.0));
    let honest = "def g(x):\n    return [x, (x, x), {x: x}, {x}]";
    assert_eq!(reward.score(&nested, honest), Ok(1.0));
    // Equal plain values of other types pass too: 2.0 == 2, a frozenset == a set.
    let other_types = "def g(x):\n    return [float(x), (x, True and x), {x: x}, frozenset({x})]";
    assert_eq!(reward.score(&nested, other_types), Ok(1.0));
    assert_eq!(reward.unchecked_asserts(&flat), Ok(0));
    assert_eq!(reward.unchecked_asserts(&nested), Ok(0));
}

/// As root, candidates run as `nobody`: a program that is right only when not root
/// scores 1 (so CI, which runs as root, shows the drop). As another user the candidate is
/// not root either, but in a user namespace it is mapped to uid 0, so that case is
/// checked without namespaces.
#[test]
fn candidates_never_run_as_root() {
    let root = rustix::process::geteuid().is_root();
    let isolation = if root {
        IsolationMode::Auto
    } else {
        IsolationMode::None
    };
    let Some(reward) = reward(isolation) else {
        return;
    };
    let sandbox = reward.sandbox();
    eprintln!(
        "interpreter {:?}, uid {:?}",
        sandbox.interpreter(),
        sandbox.drops_to_uid()
    );
    if root {
        assert_eq!(sandbox.drops_to_uid(), Some(65_534));
    }
    let p = prompt(&TESTS);
    let not_root = "import os\ndef f(x):\n    return x + 1 if os.getuid() != 0 else 0\n";
    assert_eq!(reward.score(&p, not_root), Ok(1.0));
}

/// As root, an explicit `python` that `nobody` cannot use is a configuration error naming
/// `python` and `allow_root`, unless `allow_root = true`, which runs candidates as root.
///
/// The interpreter is a wrapper in a 0700 directory that runs `/usr/bin/python3` with its
/// standard library behind that directory (`PYTHONHOME`), like a pyenv under `/root`.
#[test]
fn an_interpreter_nobody_cannot_use_needs_allow_root() {
    let system = std::path::Path::new("/usr/bin/python3");
    if !rustix::process::geteuid().is_root() || !system.exists() {
        eprintln!("skipping: needs root and /usr/bin/python3");
        return;
    }
    // Where the standard library lies below the prefix (lib/python3.11 on Debian,
    // lib64/python3.12 on Fedora): the wrapper's PYTHONHOME gets a symlink there.
    let out = std::process::Command::new(system)
        .args([
            "-S",
            "-c",
            "import os, sys; print(sys.prefix); print(os.path.relpath(os.path.dirname(os.__file__), sys.prefix))",
        ])
        .output()
        .expect("/usr/bin/python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let (Some(prefix), Some(stdlib)) = (lines.next(), lines.next()) else {
        panic!("unexpected answer: {text:?}");
    };
    let (prefix, stdlib) = (std::path::Path::new(prefix), std::path::Path::new(stdlib));
    if stdlib.starts_with("..") {
        eprintln!("skipping: the standard library is outside the prefix ({text:?})");
        return;
    }
    let private = tempfile::tempdir().expect("a temporary directory");
    let mode = |m| std::os::unix::fs::PermissionsExt::from_mode(m);
    std::fs::set_permissions(private.path(), mode(0o700)).expect("chmod 0700");
    let link = private.path().join(stdlib);
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent).expect("the library's parent directories");
    }
    std::os::unix::fs::symlink(prefix.join(stdlib), &link)
        .expect("a symlink to the standard library");
    let wrapper = private.path().join("python3");
    let home = private.path().display().to_string();
    // `Interpreter::resolve` asks for sys.executable: answer with the wrapper itself.
    let script = format!(
        "#!/bin/sh\nexport PYTHONHOME={home}\nif [ \"$4\" = 'import sys; print(sys.executable); print(*sys.version_info[:2])' ]; then\n  echo \"$0\"\n  exec {} -S -c 'import sys; print(*sys.version_info[:2])'\nfi\nexec {} \"$@\"\n",
        system.display(),
        system.display()
    );
    std::fs::write(&wrapper, script).expect("the wrapper");
    std::fs::set_permissions(&wrapper, mode(0o700)).expect("chmod 0700");
    let config = PythonTestsConfig {
        python: Some(wrapper.clone()),
        workers: Some(1),
        ..PythonTestsConfig::default()
    };
    let e = config.build().expect_err("nobody cannot use the wrapper");
    assert_eq!(e.field, "python");
    assert!(e.reason.contains("allow_root"), "{e}");
    eprintln!("{e}");
    let reward = PythonTestsConfig {
        allow_root: true,
        ..config
    }
    .build()
    .expect("allowed to run as root");
    assert_eq!(reward.sandbox().drops_to_uid(), None);
    assert_eq!(reward.sandbox().interpreter().path, wrapper);
    // It really runs as root now: the uid-dependent program fails.
    let not_root = "import os\ndef f(x):\n    return x + 1 if os.getuid() != 0 else 0\n";
    assert_eq!(reward.score(&prompt(&TESTS), not_root), Ok(0.0));
    assert_eq!(
        reward.score(&prompt(&TESTS), "def f(x):\n    return x + 1"),
        Ok(1.0)
    );
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
