//! [`FlowerClient`]: a fedmoa [`LocalTrainer`] serving a Flower SuperLink as a SuperNode.
//!
//! Cycle: register → activate → (heartbeats on their own thread) → pull a message →
//! pull its objects (children first, hashes checked) → confirm → train/evaluate → push
//! the reply and its objects → … → deactivate (and unregister) on shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use fedmoa_core::LocalTrainer;

use crate::codec::{deflate_message, inflate_message, post_order};
use crate::config::FlowerClientConfig;
use crate::error::FlowerError;
use crate::fleet::Fleet;
use crate::handler::{ClientInfo, Reply, handle, reply_header};
use crate::identity::NodeIdentity;
use crate::proto;
use crate::transport::{FleetTransport, HttpFleet, HttpFleetOptions};

/// Flower's API error code when a key is registered already.
const PUBLIC_KEY_ALREADY_IN_USE: i64 = 23;

/// Refused operations in a row after which the session is re-established.
const MAX_REFUSALS: u32 = 5;

/// Stops a running [`FlowerClient::run`] from another thread (e.g. a signal handler).
#[derive(Debug, Clone, Default)]
pub struct ShutdownHandle(Arc<AtomicBool>);

impl ShutdownHandle {
    /// Asks the client to leave the federation after the current message.
    pub fn shutdown(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once [`ShutdownHandle::shutdown`] was called.
    pub fn is_shutdown(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a finished [`FlowerClient::run`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    /// Train instructions answered with content.
    pub trained: u64,
    /// Evaluate instructions answered with content.
    pub evaluated: u64,
    /// Instructions answered with an error reply.
    pub errors: u64,
    /// Times the session was re-established after the SuperLink restarted or forgot us.
    pub reconnects: u64,
    /// Bytes of objects pulled and pushed (object encodings, without HTTP overhead).
    pub bytes_pulled: u64,
    /// See `bytes_pulled`.
    pub bytes_pushed: u64,
    /// All Fleet requests (heartbeats included) and their protobuf body bytes.
    pub traffic: crate::fleet::Traffic,
}

impl std::fmt::Display for RunSummary {
    /// One line: `3 train, 0 evaluate, 0 errors, 1 reconnects, … bytes pulled, …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} train, {} evaluate, {} errors, {} reconnects, {} bytes pulled, {} bytes pushed; \
             {} requests, {} body bytes sent, {} received",
            self.trained,
            self.evaluated,
            self.errors,
            self.reconnects,
            self.bytes_pulled,
            self.bytes_pushed,
            self.traffic.requests,
            self.traffic.sent,
            self.traffic.received
        )
    }
}

/// A Flower client wrapping any [`LocalTrainer`].
pub struct FlowerClient<T: LocalTrainer> {
    trainer: T,
    config: FlowerClientConfig,
    identity: Arc<NodeIdentity>,
    fleet: Arc<Fleet<Box<dyn FleetTransport>>>,
    shutdown: ShutdownHandle,
}

struct Session {
    node_id: Arc<AtomicU64>,
    lost: Arc<AtomicBool>,
    stop_tx: mpsc::Sender<()>,
    heartbeat: Option<thread::JoinHandle<()>>,
}

impl<T: LocalTrainer> FlowerClient<T> {
    /// A client talking HTTP(S) to `config.superlink`.
    ///
    /// # Errors
    /// [`FlowerError::Config`] for an invalid configuration, [`FlowerError::Identity`]
    /// when the key file cannot be read or created.
    pub fn new(trainer: T, config: FlowerClientConfig) -> Result<Self, FlowerError> {
        config.validate()?;
        let identity = Arc::new(load_identity(&config)?);
        let transport = HttpFleet::new(
            &HttpFleetOptions {
                base_url: config.superlink.clone(),
                root_certificates: config.root_certificates.clone(),
                timeout: FlowerClientConfig::secs(config.request_timeout_secs),
            },
            Arc::clone(&identity),
        )?;
        Ok(Self::with_transport(
            trainer,
            config,
            identity,
            Box::new(transport),
        ))
    }

    /// A client over any transport (the identity must be the one the transport signs
    /// with).
    pub fn with_transport(
        trainer: T,
        config: FlowerClientConfig,
        identity: Arc<NodeIdentity>,
        transport: Box<dyn FleetTransport>,
    ) -> Self {
        Self {
            trainer,
            config,
            identity,
            fleet: Arc::new(Fleet::new(transport)),
            shutdown: ShutdownHandle::default(),
        }
    }

    /// A handle to stop [`FlowerClient::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The trainer (e.g. to read its state after the run).
    pub fn trainer(&self) -> &T {
        &self.trainer
    }

    fn log(&self, msg: impl AsRef<str>) {
        if self.config.verbose {
            eprintln!(
                "[fedmoa-flower {}] {}",
                self.config.client_name(),
                msg.as_ref()
            );
        }
    }

    /// Serves the SuperLink until shut down, until the run finished (with
    /// `exit_after_run`), or until the SuperLink has been unreachable for
    /// `give_up_after_secs`.
    ///
    /// # Errors
    /// [`FlowerError::ProtocolMismatch`] when the SuperLink speaks another Fleet API,
    /// [`FlowerError::Refused`] when it refuses this node, [`FlowerError::Unreachable`]
    /// after giving up.
    pub fn run(&mut self) -> Result<RunSummary, FlowerError> {
        let mut summary = RunSummary::default();
        let mut session = self.connect_with_retry()?;
        let result = self.serve(&mut session, &mut summary);
        let node_id = session.node_id.load(Ordering::SeqCst);
        self.stop_heartbeats(&mut session);
        if node_id != 0 {
            // Leaving cleanly: deactivate, then unregister a self-registered key. Failures
            // are only logged: the SuperLink also expires silent nodes.
            if let Err(e) = self.fleet.deactivate(node_id) {
                self.log(format!("deactivate-node failed: {e}"));
            } else if self.config.self_register
                && let Err(e) = self.fleet.unregister(node_id)
            {
                self.log(format!("unregister-node failed: {e}"));
            } else {
                self.log(format!("node {node_id} left the federation"));
            }
        }
        summary.traffic = self.fleet.traffic();
        result.map(|()| summary)
    }

    fn serve(
        &mut self,
        session: &mut Session,
        summary: &mut RunSummary,
    ) -> Result<(), FlowerError> {
        let poll = FlowerClientConfig::secs(self.config.poll_interval_secs);
        let mut last_run: Option<u64> = None;
        let mut failing_since: Option<Instant> = None;
        let mut backoff = Duration::from_millis(500);
        let mut rejected_in_a_row = 0u32;
        while !self.shutdown.is_shutdown() {
            if session.lost.swap(false, Ordering::SeqCst) {
                self.log("the SuperLink forgot this node; re-activating");
                self.reconnect(session, summary)?;
            }
            let node_id = session.node_id.load(Ordering::SeqCst);
            let step = self.poll_once(node_id, summary, &mut last_run);
            match step {
                Ok(worked) => {
                    failing_since = None;
                    rejected_in_a_row = 0;
                    backoff = Duration::from_millis(500);
                    match worked {
                        Polled::Message => {}
                        Polled::Idle => thread::sleep(poll),
                        Polled::RunFinished(run) => {
                            self.log(format!("run {run} finished"));
                            if self.config.exit_after_run {
                                return Ok(());
                            }
                            last_run = None;
                        }
                    }
                }
                Err(e) if e.is_transient() => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed().as_secs_f64() > self.config.give_up_after_secs {
                        return Err(e);
                    }
                    self.log(format!("{e}; retrying in {:.1} s", backoff.as_secs_f64()));
                    thread::sleep(backoff);
                    backoff =
                        (backoff * 2).min(FlowerClientConfig::secs(self.config.max_backoff_secs));
                }
                Err(FlowerError::Refused(why)) => {
                    // After a SuperLink restart without persistent state our node id is
                    // unknown: start a new session.
                    self.log(format!("session rejected ({why}); re-registering"));
                    self.reconnect(session, summary)?;
                }
                Err(e @ FlowerError::Status { .. }) => {
                    // A refused operation (e.g. a reply to a run that finished meanwhile):
                    // the message is dropped; after repeated refusals start a new session.
                    rejected_in_a_row += 1;
                    self.log(format!("{e}"));
                    if rejected_in_a_row >= MAX_REFUSALS {
                        self.log("too many refusals in a row; re-registering");
                        self.reconnect(session, summary)?;
                        rejected_in_a_row = 0;
                    } else {
                        thread::sleep(poll);
                    }
                }
                Err(e @ (FlowerError::Decode(_) | FlowerError::Trainer(_))) => {
                    // One malformed or unavailable message: drop it and keep serving.
                    summary.errors += 1;
                    self.log(format!("dropping a message: {e}"));
                    thread::sleep(poll);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn reconnect(
        &self,
        session: &mut Session,
        summary: &mut RunSummary,
    ) -> Result<(), FlowerError> {
        self.stop_heartbeats(session);
        // If the SuperLink still knows the old node, it must be deactivated before the
        // key can be activated again; after a restart this fails harmlessly.
        let _ = self
            .fleet
            .deactivate(session.node_id.load(Ordering::SeqCst));
        *session = self.connect_with_retry()?;
        summary.reconnects += 1;
        Ok(())
    }

    fn stop_heartbeats(&self, session: &mut Session) {
        let _ = session.stop_tx.send(());
        if let Some(h) = session.heartbeat.take() {
            let _ = h.join();
        }
    }

    fn connect_with_retry(&self) -> Result<Session, FlowerError> {
        let start = Instant::now();
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.connect() {
                Ok(s) => return Ok(s),
                Err(e)
                    if e.is_transient()
                        && start.elapsed().as_secs_f64() < self.config.give_up_after_secs =>
                {
                    if self.shutdown.is_shutdown() {
                        return Err(e);
                    }
                    self.log(format!("{e}; retrying in {:.1} s", backoff.as_secs_f64()));
                    thread::sleep(backoff);
                    backoff =
                        (backoff * 2).min(FlowerClientConfig::secs(self.config.max_backoff_secs));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn connect(&self) -> Result<Session, FlowerError> {
        let pem = self.identity.public_key_pem();
        if self.config.self_register {
            match self.fleet.register(pem) {
                Ok(id) => self.log(format!("registered as node {id}")),
                Err(FlowerError::Status {
                    code: Some(PUBLIC_KEY_ALREADY_IN_USE),
                    ..
                }) => {
                    self.log("key already registered");
                }
                Err(e) => return Err(e),
            }
        }
        let interval = self.config.heartbeat_interval_secs;
        let node_id = self.fleet.activate(pem, interval)?;
        self.log(format!(
            "activated node {node_id} (heartbeat every {:.0} s)",
            0.8 * interval
        ));
        let node = Arc::new(AtomicU64::new(node_id));
        let lost = Arc::new(AtomicBool::new(false));
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let heartbeat = {
            let fleet = Arc::clone(&self.fleet);
            let node = Arc::clone(&node);
            let lost = Arc::clone(&lost);
            let verbose = self.config.verbose;
            thread::Builder::new()
                .name("fedmoa-flower-heartbeat".into())
                .spawn(move || heartbeat_loop(&fleet, &node, &lost, interval, &stop_rx, verbose))
                .map_err(|e| {
                    FlowerError::Identity(format!("cannot start the heartbeat thread: {e}"))
                })?
        };
        Ok(Session {
            node_id: node,
            lost,
            stop_tx,
            heartbeat: Some(heartbeat),
        })
    }

    fn poll_once(
        &mut self,
        node_id: u64,
        summary: &mut RunSummary,
        last_run: &mut Option<u64>,
    ) -> Result<Polled, FlowerError> {
        let Some((msg, tree)) = self.fleet.pull_message(node_id)? else {
            if let Some(run) = *last_run {
                let status = self.fleet.run_status(node_id, run)?;
                if status == "finished" {
                    return Ok(Polled::RunFinished(run));
                }
            }
            return Ok(Polled::Idle);
        };
        let started = Instant::now();
        let meta = msg
            .metadata
            .ok_or_else(|| FlowerError::Decode("pulled message has no metadata".into()))?;
        *last_run = Some(meta.run_id);
        self.log(format!(
            "received {} of run {}",
            meta.message_type, meta.run_id
        ));
        let mut store = HashMap::new();
        for id in post_order(&tree) {
            let bytes = self.pull_object(node_id, meta.run_id, &id)?;
            summary.bytes_pulled += bytes.len() as u64;
            store.insert(id, bytes);
        }
        self.fleet.confirm(node_id, meta.run_id, &meta.message_id)?;
        let who = ClientInfo {
            index: self.config.client_index,
            name: self.config.client_name(),
        };
        let reply = match inflate_message(&store, &tree.object_id) {
            Ok((_, content)) => handle(
                &mut self.trainer,
                &meta.message_type,
                content.as_ref(),
                &who,
            ),
            Err(e) => Reply::Error {
                code: crate::handler::CLIENT_APP_RAISED_EXCEPTION,
                reason: e.to_string(),
            },
        };
        let (header, content) = match reply {
            Reply::Content(rd) => {
                if meta.message_type.starts_with("train") {
                    summary.trained += 1;
                } else {
                    summary.evaluated += 1;
                }
                (
                    reply_header(&meta, node_id, SystemTime::now(), None),
                    Some(rd),
                )
            }
            Reply::Error { code, reason } => {
                summary.errors += 1;
                self.log(format!("{} failed: {reason}", meta.message_type));
                let err = proto::Error { code, reason };
                (
                    reply_header(&meta, node_id, SystemTime::now(), Some(err)),
                    None,
                )
            }
        };
        let deflated = deflate_message(&header, content.as_ref());
        let mut wire = header;
        if let Some(m) = wire.metadata.as_mut() {
            m.message_id = deflated.root.clone();
        }
        if content.is_some() {
            wire.content = Some(proto::RecordDict::default());
        }
        let runtime = started.elapsed().as_secs_f64();
        let (to_push, session_id) =
            self.fleet
                .push_message(node_id, wire, deflated.tree.clone(), runtime)?;
        for o in &deflated.objects {
            if to_push.contains(&o.id) {
                self.fleet
                    .push_object(node_id, meta.run_id, &o.id, &o.bytes, &session_id)?;
                summary.bytes_pushed += o.bytes.len() as u64;
            }
        }
        self.log(format!(
            "answered {} of run {} in {:.2} s, {} bytes pushed",
            meta.message_type,
            meta.run_id,
            started.elapsed().as_secs_f64(),
            deflated.total_bytes()
        ));
        Ok(Polled::Message)
    }

    fn pull_object(&self, node_id: u64, run_id: u64, id: &str) -> Result<Vec<u8>, FlowerError> {
        let deadline = Instant::now() + FlowerClientConfig::secs(self.config.request_timeout_secs);
        loop {
            if let Some(bytes) = self.fleet.pull_object(node_id, run_id, id)? {
                return Ok(bytes);
            }
            if Instant::now() > deadline {
                return Err(FlowerError::Decode(format!(
                    "object {id} never became available"
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

enum Polled {
    Message,
    Idle,
    RunFinished(u64),
}

fn load_identity(config: &FlowerClientConfig) -> Result<NodeIdentity, FlowerError> {
    match &config.key_file {
        Some(path) if path.exists() => NodeIdentity::from_pkcs8_pem_file(path),
        Some(path) => {
            let id = NodeIdentity::generate()?;
            id.write_pkcs8_pem_file(path)?;
            Ok(id)
        }
        None => NodeIdentity::generate(),
    }
}

/// Sends a heartbeat every 0.8 × `interval` until told to stop; flags `lost` when the
/// SuperLink answers that it no longer knows the node.
fn heartbeat_loop(
    fleet: &Fleet<Box<dyn FleetTransport>>,
    node: &AtomicU64,
    lost: &AtomicBool,
    interval: f64,
    stop: &mpsc::Receiver<()>,
    verbose: bool,
) {
    let period = Duration::from_secs_f64(0.8 * interval);
    loop {
        match stop.recv_timeout(period) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Stop requested or the client is gone.
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        match fleet.heartbeat(node.load(Ordering::SeqCst), interval) {
            Ok(true) => {}
            Ok(false) => lost.store(true, Ordering::SeqCst),
            Err(e) => {
                if verbose {
                    eprintln!("[fedmoa-flower] heartbeat failed: {e}");
                }
                if !e.is_transient() {
                    lost.store(true, Ordering::SeqCst);
                }
            }
        }
    }
}
