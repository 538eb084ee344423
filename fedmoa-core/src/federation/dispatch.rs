//! Runs one round's client requests on a bounded pool of worker threads, with per-client
//! timeouts. A client that times out is abandoned (its thread finishes in the background)
//! and a replacement worker keeps the pool at full strength.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{Client, ClientError};
use crate::{ClientUpdate, ParamSet, RoundPlan};

enum Msg {
    Started(usize, Instant),
    Done(usize, Result<ClientUpdate, ClientError>),
}

type Queue = Arc<Mutex<VecDeque<(usize, Arc<dyn Client>, RoundPlan)>>>;

/// Asks every `(client, plan)` to train from `global`; returns one result per job, in order.
pub(crate) fn train_all(
    jobs: Vec<(Arc<dyn Client>, RoundPlan)>,
    global: &ParamSet,
    max_parallel: usize,
    timeout: Option<Duration>,
) -> Vec<Result<ClientUpdate, ClientError>> {
    let n_jobs = jobs.len();
    let global = Arc::new(global.clone());
    let queue: Queue = Arc::new(Mutex::new(
        jobs.into_iter()
            .enumerate()
            .map(|(i, (c, p))| (i, c, p))
            .collect(),
    ));
    let (tx, rx) = mpsc::channel();
    for _ in 0..max_parallel.min(n_jobs) {
        spawn_worker(&queue, &global, &tx);
    }

    let mut results: Vec<Option<Result<ClientUpdate, ClientError>>> =
        (0..n_jobs).map(|_| None).collect();
    let mut running: BTreeMap<usize, Instant> = BTreeMap::new();
    let mut pending = n_jobs;
    while pending > 0 {
        let now = Instant::now();
        let wait = match timeout {
            Some(t) => running
                .values()
                .map(|&start| (start + t).saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_secs(3600)),
            None => Duration::from_secs(3600),
        };
        match rx.recv_timeout(wait) {
            Ok(Msg::Started(i, at)) => {
                running.insert(i, at);
            }
            Ok(Msg::Done(i, res)) => {
                if running.remove(&i).is_some() && results[i].is_none() {
                    results[i] = Some(res);
                    pending -= 1;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let Some(t) = timeout else { continue };
                let now = Instant::now();
                let expired: Vec<usize> = running
                    .iter()
                    .filter(|(_, start)| now.duration_since(**start) >= t)
                    .map(|(&i, _)| i)
                    .collect();
                for i in expired {
                    running.remove(&i);
                    results[i] = Some(Err(ClientError::Timeout {
                        secs: t.as_secs_f64(),
                    }));
                    pending -= 1;
                    spawn_worker(&queue, &global, &tx);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or(Err(ClientError::Transport("worker vanished".into()))))
        .collect()
}

fn spawn_worker(queue: &Queue, global: &Arc<ParamSet>, tx: &Sender<Msg>) {
    let (queue, global, tx) = (Arc::clone(queue), Arc::clone(global), tx.clone());
    let spawned = thread::Builder::new()
        .name("fedmoa-client".into())
        .spawn(move || {
            loop {
                let job = match queue.lock() {
                    Ok(mut q) => q.pop_front(),
                    Err(poisoned) => poisoned.into_inner().pop_front(),
                };
                let Some((i, client, plan)) = job else { break };
                if tx.send(Msg::Started(i, Instant::now())).is_err() {
                    break;
                }
                let res = client.train(&global, &plan);
                if tx.send(Msg::Done(i, res)).is_err() {
                    break;
                }
            }
        });
    if spawned.is_err() {
        // Could not start a thread: the jobs stay queued for the remaining workers; if none
        // remain, the channel disconnects and the jobs are reported as failed.
    }
}
