//! Turns one received instruction into the reply content by calling the trainer; no
//! networking here.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::SystemTime;

use fedmoa_core::federation::panic_message;
use fedmoa_core::{LocalTrainer, Split};

use crate::error::FlowerError;
use crate::mapping::{
    arrays_to_params, eval_metrics, params_to_arrays, plan_from_config, update_metrics,
};
use crate::proto;
use crate::proto::config_record_value::Value as Cv;
use crate::records::{Record, RecordDict, string_config_record};
use crate::timestamp::unix_secs;

/// Flower's error code for an exception in the client app.
pub const CLIENT_APP_RAISED_EXCEPTION: i64 = 2;
/// Flower's error code for anything else (here: unsupported message types).
pub const UNKNOWN_ERROR: i64 = 0;

/// What to send back.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A normal reply with content.
    Content(RecordDict),
    /// An error reply.
    Error {
        /// Flower error code.
        code: i64,
        /// Human-readable reason.
        reason: String,
    },
}

/// Who is answering.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Index seeding the round plan.
    pub index: u64,
    /// Name put in the `fedmoa` record.
    pub name: String,
}

/// Handles one instruction of `message_type` (`train`, `evaluate`, optionally with a
/// `.suffix`). Trainer errors and panics become error replies, so one bad round never
/// takes the client down.
pub fn handle(
    trainer: &mut dyn LocalTrainer,
    message_type: &str,
    content: Option<&RecordDict>,
    who: &ClientInfo,
) -> Reply {
    let base = message_type.split('.').next().unwrap_or_default();
    let result = catch_unwind(AssertUnwindSafe(|| match base {
        "train" => train(trainer, content, who),
        "evaluate" => evaluate(trainer, content),
        other => Err(FlowerError::ProtocolMismatch(format!(
            "message type {other:?} is not supported by fedmoa clients (train, evaluate)"
        ))),
    }));
    match result {
        Ok(Ok(rd)) => Reply::Content(rd),
        Ok(Err(FlowerError::ProtocolMismatch(reason))) => Reply::Error {
            code: UNKNOWN_ERROR,
            reason,
        },
        Ok(Err(e)) => Reply::Error {
            code: CLIENT_APP_RAISED_EXCEPTION,
            reason: e.to_string(),
        },
        Err(payload) => Reply::Error {
            code: CLIENT_APP_RAISED_EXCEPTION,
            reason: format!("trainer panicked: {}", panic_message(payload.as_ref())),
        },
    }
}

fn train_error(e: impl std::fmt::Display) -> FlowerError {
    FlowerError::Trainer(e.to_string())
}

fn train(
    trainer: &mut dyn LocalTrainer,
    content: Option<&RecordDict>,
    who: &ClientInfo,
) -> Result<RecordDict, FlowerError> {
    let content =
        content.ok_or_else(|| FlowerError::Decode("train message without content".into()))?;
    let (_, arrays) = content
        .first_arrays()
        .ok_or_else(|| FlowerError::Decode("train message without an ArrayRecord".into()))?;
    let global = arrays_to_params(arrays)?;
    let plan = plan_from_config(content.first_config(), who.index)?;
    let update = trainer.train(&global, &plan).map_err(train_error)?;
    let local = global.add(&update.delta).map_err(train_error)?;
    let meta = string_config_record(vec![
        ("task".into(), update.task.as_str().to_string()),
        ("client-id".into(), who.name.clone()),
        (
            "fedmoa-flower".into(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    Ok(RecordDict {
        items: vec![
            ("arrays".into(), Record::Arrays(params_to_arrays(&local))),
            ("metrics".into(), Record::Metrics(update_metrics(&update))),
            ("fedmoa".into(), Record::Config(meta)),
        ],
    })
}

fn evaluate(
    trainer: &mut dyn LocalTrainer,
    content: Option<&RecordDict>,
) -> Result<RecordDict, FlowerError> {
    let content =
        content.ok_or_else(|| FlowerError::Decode("evaluate message without content".into()))?;
    let (_, arrays) = content
        .first_arrays()
        .ok_or_else(|| FlowerError::Decode("evaluate message without an ArrayRecord".into()))?;
    let params = arrays_to_params(arrays)?;
    let split = split_from_config(content.first_config())?;
    let report = trainer.evaluate(&params, split).map_err(train_error)?;
    Ok(RecordDict {
        items: vec![("metrics".into(), Record::Metrics(eval_metrics(&report)))],
    })
}

/// `split` key of the evaluate config: `validation` (default), `test` or `train`.
fn split_from_config(config: Option<&proto::ConfigRecord>) -> Result<Split, FlowerError> {
    let value = config
        .and_then(|c| c.items.iter().find(|i| i.key == "split"))
        .and_then(|i| i.value.as_ref())
        .and_then(|v| v.value.as_ref());
    match value {
        None => Ok(Split::Validation),
        Some(Cv::String(s)) if s == "validation" => Ok(Split::Validation),
        Some(Cv::String(s)) if s == "test" => Ok(Split::Test),
        Some(Cv::String(s)) if s == "train" => Ok(Split::Train),
        Some(other) => Err(fedmoa_core::ConfigError::new(
            "split",
            format!("must be \"validation\", \"test\" or \"train\", got {other:?}"),
        )
        .into()),
    }
}

/// The reply header for instruction `ins` (Flower's `Message(content, reply_to=ins)`):
/// addressed back to the SuperLink, same run, group and type, with the instruction's
/// remaining TTL.
pub fn reply_header(
    ins: &proto::Metadata,
    node_id: u64,
    now: SystemTime,
    error: Option<proto::Error>,
) -> proto::Message {
    let created_at = unix_secs(now);
    let ttl = (ins.created_at + ins.ttl - created_at).max(0.0);
    proto::Message {
        metadata: Some(proto::Metadata {
            run_id: ins.run_id,
            message_id: String::new(),
            src_node_id: node_id,
            dst_node_id: ins.src_node_id,
            reply_to_message_id: ins.message_id.clone(),
            group_id: ins.group_id.clone(),
            ttl,
            message_type: ins.message_type.clone(),
            created_at,
            src_task_id: ins.dst_task_id,
            dst_task_id: ins.src_task_id,
        }),
        content: None,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::metric_record_value::Value as Mv;
    use crate::records::metric_record;
    use fedmoa_core::{ClientUpdate, EvalReport, ParamSet, RoundPlan, TrainError};
    use std::time::{Duration, UNIX_EPOCH};

    /// Adds `plan.server_round` to every parameter; accuracy 0.5, task "math".
    struct AddRound;
    impl LocalTrainer for AddRound {
        fn train(&mut self, g: &ParamSet, plan: &RoundPlan) -> Result<ClientUpdate, TrainError> {
            let mut delta = g.zeros_like();
            for (_, t) in delta.iter_mut() {
                t.data_mut()
                    .iter_mut()
                    .for_each(|v| *v = plan.server_round as f32);
            }
            Ok(ClientUpdate::new("ignored", "math", 10, delta, 0.5))
        }
        fn evaluate(&mut self, p: &ParamSet, split: Split) -> Result<EvalReport, TrainError> {
            if split == Split::Test {
                panic!("no test split here");
            }
            Ok(EvalReport {
                accuracy: p.flatten()[0] / 10.0,
                n_examples: 4,
                ..Default::default()
            })
        }
    }

    fn ins(round: i64, extra: Vec<(&str, Cv)>) -> RecordDict {
        let p = ParamSet::new().with("w", vec![2], vec![1.0, 2.0]).unwrap();
        let mut items = vec![proto::config_record::Item {
            key: "server-round".into(),
            value: Some(proto::ConfigRecordValue {
                value: Some(Cv::Sint64(round)),
            }),
        }];
        for (k, v) in extra {
            items.push(proto::config_record::Item {
                key: k.into(),
                value: Some(proto::ConfigRecordValue { value: Some(v) }),
            });
        }
        RecordDict {
            items: vec![
                ("arrays".into(), Record::Arrays(params_to_arrays(&p))),
                (
                    "config".into(),
                    Record::Config(proto::ConfigRecord { items }),
                ),
            ],
        }
    }

    fn who() -> ClientInfo {
        ClientInfo {
            index: 1,
            name: "c1".into(),
        }
    }

    #[test]
    fn train_replies_with_local_weights_metrics_and_task() {
        let Reply::Content(rd) = handle(&mut AddRound, "train", Some(&ins(3, vec![])), &who())
        else {
            panic!("expected content");
        };
        let (_, arrays) = rd.first_arrays().unwrap();
        // global [1, 2] + delta [3, 3]
        assert_eq!(arrays_to_params(arrays).unwrap().flatten(), vec![4.0, 5.0]);
        let Some(Record::Metrics(m)) = rd.get("metrics") else {
            panic!()
        };
        assert_eq!(m.items[0].key, "num-examples");
        assert_eq!(
            m.items[0].value.clone().unwrap().value,
            Some(Mv::Sint64(10))
        );
        let Some(Record::Config(c)) = rd.get("fedmoa") else {
            panic!()
        };
        assert_eq!(
            c.items[0].value.clone().unwrap().value,
            Some(Cv::String("math".into()))
        );
        assert_eq!(
            c.items[1].value.clone().unwrap().value,
            Some(Cv::String("c1".into()))
        );
    }

    #[test]
    fn evaluate_reads_the_split_and_contains_panics() {
        let Reply::Content(rd) = handle(&mut AddRound, "evaluate.x", Some(&ins(1, vec![])), &who())
        else {
            panic!("expected content");
        };
        let Some(Record::Metrics(m)) = rd.get("metrics") else {
            panic!()
        };
        // accuracy = first parameter / 10 = 0.1 (as f32 → f64)
        assert_eq!(
            m.items[1].value.clone().unwrap().value,
            Some(Mv::Double(f64::from(0.1f32)))
        );
        let test = ins(1, vec![("split", Cv::String("test".into()))]);
        let r = handle(&mut AddRound, "evaluate", Some(&test), &who());
        assert!(
            matches!(r, Reply::Error { code: 2, ref reason } if reason.contains("no test split"))
        );
        let bad = ins(1, vec![("split", Cv::String("dev".into()))]);
        let r = handle(&mut AddRound, "evaluate", Some(&bad), &who());
        assert!(matches!(r, Reply::Error { code: 2, ref reason } if reason.contains("split")));
    }

    #[test]
    fn unsupported_types_and_missing_records_are_error_replies() {
        let r = handle(&mut AddRound, "query", Some(&ins(1, vec![])), &who());
        assert!(matches!(r, Reply::Error { code: 0, .. }));
        let no_arrays = RecordDict {
            items: vec![("m".into(), Record::Metrics(metric_record(vec![])))],
        };
        let r = handle(&mut AddRound, "train", Some(&no_arrays), &who());
        assert!(
            matches!(r, Reply::Error { code: 2, ref reason } if reason.contains("ArrayRecord"))
        );
        let r = handle(&mut AddRound, "train", Some(&ins(0, vec![])), &who());
        assert!(
            matches!(r, Reply::Error { code: 2, ref reason } if reason.contains("server-round"))
        );
    }

    #[test]
    fn reply_header_mirrors_the_instruction() {
        let ins = proto::Metadata {
            run_id: 5,
            message_id: "m1".into(),
            src_node_id: 1,
            dst_node_id: 42,
            group_id: "2".into(),
            ttl: 100.0,
            message_type: "train".into(),
            created_at: 1000.0,
            src_task_id: Some(7),
            dst_task_id: None,
            ..Default::default()
        };
        let now = UNIX_EPOCH + Duration::from_secs(1030);
        let r = reply_header(&ins, 42, now, None).metadata.unwrap();
        assert_eq!((r.run_id, r.src_node_id, r.dst_node_id), (5, 42, 1));
        assert_eq!(r.reply_to_message_id, "m1");
        assert_eq!(r.group_id, "2");
        // remaining TTL: 1000 + 100 - 1030 = 70
        assert_eq!(r.ttl, 70.0);
        assert_eq!(r.created_at, 1030.0);
        assert_eq!((r.src_task_id, r.dst_task_id), (None, Some(7)));
    }
}
