//! A user-defined reward plugin, registered next to the built-ins and used to score a batch.
//!
//! Run with `cargo run --example custom_reward`.

use fedmoa::core::{ConfigError, ObjectiveId, Prompt, RewardError, RewardFn};
use fedmoa::rewards::{ClientSpec, PluginConfig, RewardRegistry};

// ---- The custom plugin: 1 when the completion avoids every listed word, else 0. ----

/// Its TOML fields (`type = "forbidden_words"` is handled by the registry).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ForbiddenWordsConfig {
    words: Vec<String>,
}

/// Scores 1 when the lower-cased completion contains none of `words`, else 0.
struct ForbiddenWords {
    id: ObjectiveId,
    words: Vec<String>,
}

impl RewardFn for ForbiddenWords {
    fn id(&self) -> &ObjectiveId {
        &self.id
    }
    fn score(&self, _prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        let text = completion.to_lowercase();
        Ok(if self.words.iter().any(|w| text.contains(w.as_str())) {
            0.0
        } else {
            1.0
        })
    }
}

fn build_forbidden_words(plugin: &PluginConfig) -> Result<Box<dyn RewardFn>, ConfigError> {
    let config: ForbiddenWordsConfig = plugin.parse()?;
    if config.words.is_empty() {
        return Err(ConfigError::new(
            "forbidden_words.words",
            "must list at least one word",
        ));
    }
    Ok(Box::new(ForbiddenWords {
        id: ObjectiveId::new("forbidden_words"),
        words: config.words.iter().map(|w| w.to_lowercase()).collect(),
    }))
}

// ---- A client whose reward set mixes built-ins and the custom plugin, as data. ----

const CLIENT: &str = r#"
id = "math-polite"
task = "math"
mix = [{ weight = 1.0, task = { type = "math", families = ["add_sub", "two_step"], digits = 2 } }]
rewards = [
  { type = "math_accuracy", weight = 0.5 },
  { type = "format", weight = 0.2, partial_credit = 0.5 },
  { type = "length", weight = 0.1, max = 24, mode = "soft", cache = 8 },
  { type = "forbidden_words", weight = 0.2, words = ["sorry", "as an ai"] },
]
"#;

/// Registers a user-written reward plugin, builds a client's reward set from TOML and
/// scores a handful of completions with it.
#[derive(Debug, clap::Parser)]
#[command(name = "custom_reward")]
struct Args {}

fn main() -> std::process::ExitCode {
    let Args {} = clap::Parser::parse();
    fedmoa::cli::exit_code(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut registry = RewardRegistry::with_builtins();
    registry.register("forbidden_words", build_forbidden_words)?;

    let client = ClientSpec::from_toml_str(CLIENT)?;
    client.validate(&registry)?;
    let rewards = client.reward_set(&registry)?;
    let data = client.dataset(7, 4, 0, 0)?;

    // One prompt, several completions a policy might produce.
    let prompt = &data.train[0];
    let reference = prompt.solution.clone().unwrap_or_default();
    let wrong = reference.replace("<answer> ", "<answer> 1");
    let completions = [
        reference.as_str(),
        wrong.as_str(),
        "<answer> 12 </answer>",
        "sorry , i cannot do math . <think> ? </think> <answer> 0 </answer>",
        "<think> let me think about this step by step , carefully , one number at a time , then add everything up and check it twice </think> <answer> 0 </answer>",
    ];
    let batch: Vec<(&Prompt, &str)> = completions.iter().map(|c| (prompt, *c)).collect();
    let scores = rewards.score_batch(&batch);
    let totals = scores.weighted_sum(rewards.weights())?;

    println!("prompt: {}\n", prompt.text);
    let ids = rewards.ids();
    print!("{:<4}", "#");
    for id in &ids {
        print!("{:>17}", id.as_str());
    }
    println!("{:>10}", "weighted");
    for (j, total) in totals.iter().enumerate() {
        print!("{j:<4}");
        for row in &scores.rewards {
            print!("{:>17.3}", row[j]);
        }
        println!("{total:>10.3}");
    }
    print!("{:<4}", "w");
    for w in rewards.weights() {
        print!("{w:>17.3}");
    }
    println!("\n");
    for (j, c) in completions.iter().enumerate() {
        println!("{j}: {c}");
    }
    Ok(())
}
