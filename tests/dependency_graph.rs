//! Architecture invariant: only `fedmoa-grpo` may depend on Burn. A server that only
//! aggregates, or a reward-plugin author, never compiles it.

use std::collections::BTreeSet;
use std::process::Command;

/// Names of the crates `krate` depends on (normal edges, host platform), via `cargo tree`.
fn normal_dependencies(krate: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree", "-p", krate, "-e", "normal", "--prefix", "none", "--format", "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn only_fedmoa_grpo_depends_on_burn() {
    for krate in [
        "fedmoa-core",
        "fedmoa-agg",
        "fedmoa-rewards",
        "fedmoa-flower",
    ] {
        let deps = normal_dependencies(krate);
        assert!(
            deps.contains("serde"),
            "the check must see {krate}'s dependencies: {deps:?}"
        );
        let burn: Vec<_> = deps
            .iter()
            .filter(|n| n.starts_with("burn") || n.starts_with("cubecl"))
            .collect();
        assert!(burn.is_empty(), "{krate} pulls in {burn:?}");
    }
    let grpo = normal_dependencies("fedmoa-grpo");
    assert!(
        grpo.contains("burn"),
        "the check must see Burn where it is expected: {grpo:?}"
    );
}
