//! The client loop against an in-memory SuperLink: one train instruction, a SuperLink
//! that is briefly unreachable and then forgets the node, and a clean leave when the
//! run finishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use fedmoa_core::ParamSet;
use fedmoa_flower::codec::{deflate_message, inflate_message};
use fedmoa_flower::demo::QuadraticConfig;
use fedmoa_flower::mapping::{arrays_to_params, params_to_arrays};
use fedmoa_flower::proto;
use fedmoa_flower::records::{Record, RecordDict};
use fedmoa_flower::timestamp::unix_secs;
use fedmoa_flower::transport::{FleetTransport, classify_error};
use fedmoa_flower::{FlowerClient, FlowerClientConfig, FlowerError, NodeIdentity};
use prost::Message as _;

#[derive(Default)]
struct State {
    objects: HashMap<String, Vec<u8>>,
    pending: Option<(proto::Message, proto::ObjectTree)>,
    pulls: u32,
    registrations: u32,
    replies: Vec<(proto::Message, proto::ObjectTree)>,
    pushed: HashMap<String, Vec<u8>>,
    deactivated: Vec<u64>,
    unregistered: Vec<u64>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<State>>);

const NODE: u64 = 7;
const RUN: u64 = 5;

fn decode<M: prost::Message + Default>(body: &[u8]) -> M {
    M::decode(body).expect("request decodes")
}

impl FleetTransport for Fake {
    fn call(&self, rpc: &str, body: Vec<u8>) -> Result<Vec<u8>, FlowerError> {
        let mut s = self.0.lock().expect("lock");
        let out = match rpc {
            "register-node" => {
                s.registrations += 1;
                proto::RegisterNodeFleetResponse { node_id: NODE }.encode_to_vec()
            }
            "activate-node" => {
                let r: proto::ActivateNodeRequest = decode(&body);
                assert_eq!(r.heartbeat_interval, 10.0);
                proto::ActivateNodeResponse { node_id: NODE }.encode_to_vec()
            }
            "send-node-heartbeat" => {
                proto::SendNodeHeartbeatResponse { success: true }.encode_to_vec()
            }
            "pull-messages" => {
                s.pulls += 1;
                match s.pulls {
                    // The SuperLink is down, then back without our registration.
                    1 => {
                        return Err(FlowerError::Unreachable {
                            url: "fake".into(),
                            reason: "connection refused".into(),
                        });
                    }
                    2 => {
                        return Err(classify_error(
                            rpc,
                            "fake",
                            401,
                            b"{\"detail\": \"unknown node\"}",
                        ));
                    }
                    _ => {}
                }
                let (messages_list, message_object_trees) = match s.pending.take() {
                    Some((m, t)) => (vec![m], vec![t]),
                    None => (vec![], vec![]),
                };
                proto::PullMessagesResponse {
                    reconnect: None,
                    messages_list,
                    message_object_trees,
                }
                .encode_to_vec()
            }
            "pull-object" => {
                let r: proto::PullObjectRequest = decode(&body);
                let content = s.objects.get(&r.object_id).cloned();
                proto::PullObjectResponse {
                    object_found: content.is_some(),
                    object_available: content.is_some(),
                    object_content: content.unwrap_or_default(),
                }
                .encode_to_vec()
            }
            "confirm-message-received" => proto::ConfirmMessageReceivedResponse {}.encode_to_vec(),
            "push-messages" => {
                let r: proto::PushMessagesRequest = decode(&body);
                let tree = r.message_object_trees[0].clone();
                let mut ids = Vec::new();
                collect(&tree, &mut ids);
                s.replies.push((r.messages_list[0].clone(), tree));
                proto::PushMessagesResponse {
                    reconnect: None,
                    results: HashMap::new(),
                    objects_to_push: ids,
                    session_id: "session".into(),
                }
                .encode_to_vec()
            }
            "push-object" => {
                let r: proto::PushObjectRequest = decode(&body);
                assert_eq!(r.session_id, "session");
                assert_eq!(
                    fedmoa_flower::object::object_id(&r.object_content),
                    r.object_id
                );
                s.pushed.insert(r.object_id, r.object_content);
                proto::PushObjectResponse { stored: true }.encode_to_vec()
            }
            "get-run" => {
                // Finished once the reply arrived.
                if s.replies.is_empty() {
                    proto::GetRunResponse::default().encode_to_vec()
                } else {
                    return Err(classify_error(
                        rpc,
                        "fake",
                        403,
                        b"{\"code\": 2007, \"detail\": \"finished\"}",
                    ));
                }
            }
            "deactivate-node" => {
                s.deactivated
                    .push(decode::<proto::DeactivateNodeRequest>(&body).node_id);
                proto::DeactivateNodeResponse {}.encode_to_vec()
            }
            "unregister-node" => {
                s.unregistered
                    .push(decode::<proto::UnregisterNodeFleetRequest>(&body).node_id);
                proto::UnregisterNodeFleetResponse {}.encode_to_vec()
            }
            other => panic!("unexpected rpc {other}"),
        };
        Ok(out)
    }
}

fn collect(t: &proto::ObjectTree, out: &mut Vec<String>) {
    for c in &t.children {
        collect(c, out);
    }
    out.push(t.object_id.clone());
}

fn instruction(global: &ParamSet) -> (proto::Message, proto::ObjectTree, HashMap<String, Vec<u8>>) {
    let config = proto::ConfigRecord {
        items: vec![proto::config_record::Item {
            key: "server-round".into(),
            value: Some(proto::ConfigRecordValue {
                value: Some(proto::config_record_value::Value::Sint64(1)),
            }),
        }],
    };
    let content = RecordDict {
        items: vec![
            ("arrays".into(), Record::Arrays(params_to_arrays(global))),
            ("config".into(), Record::Config(config)),
        ],
    };
    let mut header = proto::Message {
        metadata: Some(proto::Metadata {
            run_id: RUN,
            src_node_id: 1,
            dst_node_id: NODE,
            group_id: "1".into(),
            ttl: 3600.0,
            message_type: "train".into(),
            created_at: unix_secs(SystemTime::now()),
            ..Default::default()
        }),
        content: None,
        error: None,
    };
    let d = deflate_message(&header, Some(&content));
    if let Some(m) = header.metadata.as_mut() {
        m.message_id = d.root.clone();
    }
    header.content = Some(proto::RecordDict::default());
    let store = d
        .objects
        .iter()
        .map(|o| (o.id.clone(), o.bytes.clone()))
        .collect();
    (header, d.tree, store)
}

#[test]
fn serves_one_round_through_an_outage_and_leaves_cleanly() {
    let fake = Fake::default();
    let global = ParamSet::new().with("w", vec![2], vec![1.0, -1.0]).unwrap();
    {
        let (msg, tree, store) = instruction(&global);
        let mut s = fake.0.lock().unwrap();
        s.objects = store;
        s.pending = Some((msg, tree));
    }
    let trainer = QuadraticConfig {
        seed: 3,
        task: "math".into(),
        n_samples: 42,
        lr: 0.5,
        steps: 1,
        delay_secs: 0.0,
    }
    .build()
    .unwrap();
    let reference = trainer.clone();
    let config = FlowerClientConfig {
        heartbeat_interval_secs: 10.0,
        poll_interval_secs: 0.01,
        exit_after_run: true,
        verbose: false,
        ..FlowerClientConfig::default()
    };
    let identity = Arc::new(NodeIdentity::generate().unwrap());
    let mut client =
        FlowerClient::with_transport(trainer, config, identity, Box::new(fake.clone()));
    let summary = client.run().unwrap();
    assert_eq!(
        (summary.trained, summary.errors, summary.reconnects),
        (1, 0, 1)
    );

    let s = fake.0.lock().unwrap();
    assert_eq!(
        s.registrations, 2,
        "registered again after the SuperLink forgot us"
    );
    // The forgotten session is deactivated before re-registering, the final one on leave.
    assert_eq!(s.deactivated, vec![NODE, NODE]);
    assert_eq!(s.unregistered, vec![NODE]);
    assert_eq!(s.replies.len(), 1);
    let (reply, tree) = &s.replies[0];
    let meta = reply.metadata.clone().unwrap();
    assert_eq!(
        (meta.src_node_id, meta.dst_node_id, meta.run_id),
        (NODE, 1, RUN)
    );
    assert_eq!(meta.message_id, tree.object_id);
    let (_, content) = inflate_message(&s.pushed, &tree.object_id).unwrap();
    let content = content.unwrap();
    let (_, arrays) = content.first_arrays().unwrap();
    let local = arrays_to_params(arrays).unwrap();
    // One step with lr ½ from the global: θ = (θ_g + t) / 2.
    for (i, g) in [1.0f32, -1.0].iter().enumerate() {
        let expected = 0.5 * (g + reference.target("w", i));
        assert!((local.get("w").unwrap().data()[i] - expected).abs() < 1e-6);
    }
    let Some(Record::Metrics(m)) = content.get("metrics") else {
        panic!("no metrics record");
    };
    assert_eq!(m.items[0].key, "num-examples");
    assert_eq!(
        m.items[0].value.clone().unwrap().value,
        Some(proto::metric_record_value::Value::Sint64(42))
    );
}
