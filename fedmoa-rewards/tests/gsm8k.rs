//! GSM8K from `$FEDMOA_DATA_DIR/gsm8k/`: skipped (with a message) when the variable is unset.

use fedmoa_core::RewardFn;
use fedmoa_rewards::math::gsm8k::{DATA_DIR_VAR, data_dir};
use fedmoa_rewards::math::{Gsm8kSplit, load_gsm8k};
use fedmoa_rewards::rewards::{Format, MathAccuracy};
use fedmoa_rewards::{Gsm8kTaskConfig, TaskMix, TaskSpec};

#[test]
fn loads_the_shared_copy() {
    let Some(dir) = data_dir() else {
        eprintln!("skipping the GSM8K test: {DATA_DIR_VAR} is not set");
        return;
    };
    let accuracy = MathAccuracy::default();
    let format = Format::default();
    for (split, expected) in [(Gsm8kSplit::Train, 7473), (Gsm8kSplit::Test, 1319)] {
        let problems = load_gsm8k(&split.path_in(&dir)).unwrap();
        assert_eq!(problems.len(), expected, "{split:?}");
        for p in &problems {
            let prompt = p.to_prompt(format!("gsm-{}", p.index));
            let solution = prompt.solution.clone().unwrap();
            assert_eq!(accuracy.score(&prompt, &solution), Ok(1.0), "{solution}");
            assert_eq!(format.score(&prompt, &solution), Ok(1.0), "{solution}");
            assert!(!p.reasoning.contains("<<"), "{}", p.reasoning);
        }
    }
    let first = &load_gsm8k(&Gsm8kSplit::Train.path_in(&dir)).unwrap()[0];
    assert_eq!(first.answer, 72.0);

    let mix = TaskMix::single(TaskSpec::Gsm8k(Gsm8kTaskConfig {
        split: Gsm8kSplit::Test,
        dir: None,
    }));
    let data = mix.build_dataset(5, 100, 20, 20).unwrap();
    assert_eq!(
        data.train.len() + data.validation.len() + data.test.len(),
        140
    );
    assert_eq!(data, mix.build_dataset(5, 100, 20, 20).unwrap());
}
