//! The quickstart's `--quick` mode end to end: TinyLm warm start (cached), both arms,
//! summary structure and sanity.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use fedmoa::experiment::Arm;
use fedmoa::quickstart::{QuickstartConfig, run};

#[test]
fn quick_run_writes_a_sane_summary_and_fedmoa_weights_move() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = QuickstartConfig::default().quick();
    config.experiment.out_dir = dir.path().to_path_buf();
    let out = run(&config, &|line: &str| eprintln!("{line}")).unwrap();

    let summary_path = dir.path().join("quickstart-quick/summary.json");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();
    for arm in ["fedavg", "fedmoa"] {
        for key in [
            "global_acc_initial",
            "global_acc",
            "global_acc_math",
            "global_acc_code",
            "personalization",
            "balance_min",
            "hypervolume",
        ] {
            let v = summary["arms"][arm][key].as_f64().unwrap_or(f64::NAN);
            assert!((0.0..=1.0).contains(&v), "{arm}.{key} = {v}");
        }
        assert!(summary["arms"][arm]["secs"].as_f64().unwrap() > 0.0);
    }
    for file in ["metrics.jsonl", "global_accuracy.svg", "weights_fedmoa.svg"] {
        assert!(
            dir.path().join("quickstart-quick").join(file).exists(),
            "{file}"
        );
    }
    for file in [
        "global_accuracy.png",
        "weights_fedavg.png",
        "weights_fedmoa.png",
    ] {
        let bytes = std::fs::read(dir.path().join("quickstart-quick").join(file)).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{file} is not a PNG"
        );
    }

    for run in &out.runs {
        assert_eq!(run.weights.len(), 8, "every client reports weights");
        for traj in run.weights.values() {
            for w in traj {
                assert!(
                    (w.iter().sum::<f32>() - 1.0).abs() < 1e-4 && w.iter().all(|&x| x >= 0.0),
                    "{w:?}"
                );
            }
        }
    }
    // FedAvg's fixed weights are the clients' initial weights, and never move; FedMOA's
    // hypergradient weights start from the same values and must have moved.
    let last = |arm: Arm| {
        let run = out.runs.iter().find(|r| r.arm == arm).unwrap();
        run.weights
            .iter()
            .map(|(id, t)| (id.clone(), t.last().cloned().unwrap()))
            .collect::<Vec<_>>()
    };
    let fixed_run = out.runs.iter().find(|r| r.arm == Arm::Fedavg).unwrap();
    assert!(
        fixed_run
            .weights
            .values()
            .all(|t| t.windows(2).all(|w| w[0] == w[1]))
    );
    assert_ne!(
        last(Arm::Fedavg),
        last(Arm::Fedmoa),
        "the hypergradient weights must move"
    );
}
