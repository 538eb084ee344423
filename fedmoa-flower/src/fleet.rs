//! Typed Fleet RPCs on top of a [`FleetTransport`].

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::FlowerError;
use crate::proto;
use crate::transport::{FLEET_RUN_STATUS_NOT_ALLOWED, FleetTransport};

/// Typed access to the Fleet API for one node; counts requests and body bytes.
pub struct Fleet<T> {
    transport: T,
    requests: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
}

/// Requests made and protobuf body bytes exchanged so far (HTTP headers not included;
/// each request also carries about 0.6 KB of headers, mostly the signed identity).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Requests sent.
    pub requests: u64,
    /// Request body bytes.
    pub sent: u64,
    /// Response body bytes.
    pub received: u64,
}

fn node(node_id: u64) -> Option<proto::Node> {
    Some(proto::Node { node_id })
}

impl<T: FleetTransport> Fleet<T> {
    /// Wraps a transport.
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            requests: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
        }
    }

    /// Traffic so far.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            requests: self.requests.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
        }
    }

    fn rpc<Req: prost::Message, Resp: prost::Message + Default>(
        &self,
        name: &str,
        req: &Req,
    ) -> Result<Resp, FlowerError> {
        let body = req.encode_to_vec();
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.sent.fetch_add(body.len() as u64, Ordering::Relaxed);
        let bytes = self.transport.call(name, body)?;
        self.received
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Resp::decode(bytes.as_slice()).map_err(|e| {
            FlowerError::ProtocolMismatch(format!("cannot decode the {name} response: {e}"))
        })
    }

    /// `register-node`: self-registration of the key (SuperLink without
    /// `--enable-supernode-auth`).
    ///
    /// # Errors
    /// As [`FleetTransport::call`].
    pub fn register(&self, public_key: &[u8]) -> Result<u64, FlowerError> {
        let r: proto::RegisterNodeFleetResponse = self.rpc(
            "register-node",
            &proto::RegisterNodeFleetRequest {
                public_key: public_key.to_vec(),
            },
        )?;
        Ok(r.node_id)
    }

    /// `activate-node`: returns the node id; `heartbeat_interval` in `[10, 1800]` s.
    ///
    /// # Errors
    /// As [`FleetTransport::call`].
    pub fn activate(&self, public_key: &[u8], heartbeat_interval: f64) -> Result<u64, FlowerError> {
        let r: proto::ActivateNodeResponse = self.rpc(
            "activate-node",
            &proto::ActivateNodeRequest {
                public_key: public_key.to_vec(),
                heartbeat_interval,
            },
        )?;
        Ok(r.node_id)
    }

    /// `deactivate-node`.
    ///
    /// # Errors
    /// As [`FleetTransport::call`].
    pub fn deactivate(&self, node_id: u64) -> Result<(), FlowerError> {
        let _: proto::DeactivateNodeResponse =
            self.rpc("deactivate-node", &proto::DeactivateNodeRequest { node_id })?;
        Ok(())
    }

    /// `unregister-node` (only for self-registered nodes).
    ///
    /// # Errors
    /// As [`FleetTransport::call`].
    pub fn unregister(&self, node_id: u64) -> Result<(), FlowerError> {
        let _: proto::UnregisterNodeFleetResponse = self.rpc(
            "unregister-node",
            &proto::UnregisterNodeFleetRequest { node_id },
        )?;
        Ok(())
    }

    /// `send-node-heartbeat`; `false` when the SuperLink no longer knows the node.
    ///
    /// # Errors
    /// As [`FleetTransport::call`].
    pub fn heartbeat(&self, node_id: u64, interval: f64) -> Result<bool, FlowerError> {
        let r: proto::SendNodeHeartbeatResponse = self.rpc(
            "send-node-heartbeat",
            &proto::SendNodeHeartbeatRequest {
                node: node(node_id),
                heartbeat_interval: interval,
            },
        )?;
        Ok(r.success)
    }

    /// `pull-messages`: at most one message with its object tree.
    ///
    /// # Errors
    /// As [`FleetTransport::call`]; [`FlowerError::Decode`] when the message has no
    /// object tree.
    pub fn pull_message(
        &self,
        node_id: u64,
    ) -> Result<Option<(proto::Message, proto::ObjectTree)>, FlowerError> {
        let r: proto::PullMessagesResponse = self.rpc(
            "pull-messages",
            &proto::PullMessagesRequest {
                node: node(node_id),
                message_ids: Vec::new(),
            },
        )?;
        let mut msgs = r.messages_list.into_iter();
        let mut trees = r.message_object_trees.into_iter();
        match (msgs.next(), trees.next()) {
            (None, _) => Ok(None),
            (Some(m), Some(t)) => Ok(Some((m, t))),
            (Some(_), None) => Err(FlowerError::Decode(
                "pull-messages returned a message without an object tree".into(),
            )),
        }
    }

    /// `pull-object`: `Ok(None)` while the object is not yet available.
    ///
    /// # Errors
    /// As [`FleetTransport::call`]; [`FlowerError::Decode`] when the SuperLink does not
    /// know the object.
    pub fn pull_object(
        &self,
        node_id: u64,
        run_id: u64,
        object_id: &str,
    ) -> Result<Option<Vec<u8>>, FlowerError> {
        let r: proto::PullObjectResponse = self.rpc(
            "pull-object",
            &proto::PullObjectRequest {
                node: node(node_id),
                run_id,
                object_id: object_id.to_string(),
            },
        )?;
        if !r.object_found {
            return Err(FlowerError::Decode(format!(
                "the SuperLink does not have object {object_id}"
            )));
        }
        Ok(r.object_available.then_some(r.object_content))
    }

    /// `confirm-message-received`.
    ///
    /// # Errors
    /// As [`FleetTransport::call`].
    pub fn confirm(&self, node_id: u64, run_id: u64, message_id: &str) -> Result<(), FlowerError> {
        let _: proto::ConfirmMessageReceivedResponse = self.rpc(
            "confirm-message-received",
            &proto::ConfirmMessageReceivedRequest {
                node: node(node_id),
                run_id,
                message_object_id: message_id.to_string(),
            },
        )?;
        Ok(())
    }

    /// `push-messages` of one reply: returns the ids to push and the session id.
    ///
    /// # Errors
    /// As [`FleetTransport::call`].
    pub fn push_message(
        &self,
        node_id: u64,
        message: proto::Message,
        tree: proto::ObjectTree,
        runtime_secs: f64,
    ) -> Result<(Vec<String>, String), FlowerError> {
        let r: proto::PushMessagesResponse = self.rpc(
            "push-messages",
            &proto::PushMessagesRequest {
                node: node(node_id),
                messages_list: vec![message],
                message_object_trees: vec![tree],
                clientapp_runtime_list: vec![runtime_secs],
            },
        )?;
        Ok((r.objects_to_push, r.session_id))
    }

    /// `push-object`.
    ///
    /// # Errors
    /// As [`FleetTransport::call`]; [`FlowerError::Status`]-like refusal when the
    /// SuperLink did not store it.
    pub fn push_object(
        &self,
        node_id: u64,
        run_id: u64,
        object_id: &str,
        content: &[u8],
        session_id: &str,
    ) -> Result<(), FlowerError> {
        let r: proto::PushObjectResponse = self.rpc(
            "push-object",
            &proto::PushObjectRequest {
                node: node(node_id),
                run_id,
                object_id: object_id.to_string(),
                object_content: content.to_vec(),
                session_id: session_id.to_string(),
            },
        )?;
        if r.stored {
            Ok(())
        } else {
            Err(FlowerError::Refused(format!(
                "the SuperLink did not store object {object_id}"
            )))
        }
    }

    /// `get-run`: the run's status string (`pending`, `starting`, `running`,
    /// `finished`). The SuperLink refuses `get-run` for runs that are no longer
    /// running (code 2007); that is reported as `finished`.
    ///
    /// # Errors
    /// As [`FleetTransport::call`].
    pub fn run_status(&self, node_id: u64, run_id: u64) -> Result<String, FlowerError> {
        let r: Result<proto::GetRunResponse, _> = self.rpc(
            "get-run",
            &proto::GetRunRequest {
                node: node(node_id),
                run_id,
            },
        );
        match r {
            Ok(r) => Ok(r
                .run
                .and_then(|r| r.status)
                .map(|s| s.status)
                .unwrap_or_default()),
            Err(FlowerError::Status {
                code: Some(FLEET_RUN_STATUS_NOT_ALLOWED),
                ..
            }) => Ok("finished".into()),
            Err(e) => Err(e),
        }
    }
}
