//! The client thread: an async-opcua session on a current-thread tokio runtime of its own. Values of the monitored
//! items arrive on a bounded crossbeam channel (a full channel drops and counts); writes and reads are requests
//! over a bounded channel, each answered within the configured timeout. The session reconnects by itself, and
//! its subscription is transferred to the new session, or re-created, without the caller doing anything.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use futures::StreamExt;
use opcua::client::{ClientBuilder, DataChangeCallback, IdentityToken, MonitoredItem, Session, SessionPollResult};
use opcua::crypto::{PrivateKey, SecurityPolicy, X509};
use opcua::types::{
    AttributeId, DataChangeFilter, DataChangeTrigger, DataValue, DeadbandType, ExtensionObject, MessageSecurityMode,
    MonitoredItemCreateRequest, MonitoringMode, MonitoringParameters, NodeId, NumericRange, ReadValueId, StatusCode,
    TimestampsToReturn, Variant, WriteValue,
};

use crate::{DataType, Identity, OpcUaConfig, OpcUaError, Policy, SecurityMode};

/// Requests waiting for the client thread, at most.
const REQUEST_QUEUE: usize = 16;
/// Seconds between 1601-01-01 (OPC UA's epoch) and 1970-01-01.
const EPOCH_OFFSET_S: f64 = 11_644_473_600.0;

/// One value of a monitored item, as the server sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataChange {
    /// Index of the item in [`OpcUaConfig::items`].
    pub item: usize,
    /// The value as a number; `None` when the server sent none, or one that is not a number.
    pub value: Option<f64>,
    /// The source timestamp (the value's event time), Unix s.
    pub source_unix_s: Option<f64>,
    /// The server timestamp, Unix s.
    pub server_unix_s: Option<f64>,
    /// The StatusCode's bits (0: Good).
    pub status: u32,
}

/// Counters of a client, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Values handed over on the channel.
    pub received: u64,
    /// Values refused because the channel was full.
    pub dropped_channel_full: u64,
    /// Times the connection was lost.
    pub connection_losses: u64,
    /// Times the session was re-established after a loss.
    pub reconnects: u64,
}

#[derive(Default)]
struct Stats {
    received: AtomicU64,
    dropped: AtomicU64,
    losses: AtomicU64,
    reconnects: AtomicU64,
    connected: AtomicBool,
}

enum Job {
    Write { node: NodeId, name: String, value: Variant, reply: Sender<Result<(), OpcUaError>> },
    Read { node: NodeId, name: String, reply: Sender<Result<f64, OpcUaError>> },
}

/// A connected OPC UA client. Dropping it closes the session and joins its thread.
pub struct OpcUaClient {
    url: String,
    values: Receiver<DataChange>,
    jobs: Option<tokio::sync::mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Stats>,
    timeout: Duration,
    security: SecurityMode,
}

impl OpcUaClient {
    /// Connects to the endpoint (within the configured timeout), activates the session and, when there are items,
    /// creates the subscription and its monitored items. A node the server does not know, an untrusted server
    /// certificate and a refused identity are errors, each naming what is wrong.
    pub fn start(config: OpcUaConfig) -> Result<OpcUaClient, OpcUaError> {
        if config.timeout.is_zero() {
            return Err(OpcUaError::Config("the OPC UA timeout must be longer than zero".into()));
        }
        let nodes = config.items.iter().map(|i| parse_node(&i.node)).collect::<Result<Vec<_>, _>>()?;
        let identity = identity_token(&config.identity)?;
        let (value_tx, values) = crossbeam_channel::bounded(config.capacity.max(1));
        let (job_tx, job_rx) = tokio::sync::mpsc::channel(REQUEST_QUEUE);
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let stats = Arc::new(Stats::default());
        let worker_stats = stats.clone();
        let url = config.url.clone();
        let (timeout, security) = (config.timeout, config.security);
        let thread = std::thread::Builder::new()
            .name(format!("opcua-client-{}", config.url))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(OpcUaError::Connect(format!("tokio runtime: {e}"))));
                        return;
                    }
                };
                rt.block_on(run(config, nodes, identity, value_tx, job_rx, ready_tx, worker_stats));
            })
            .map_err(|e| OpcUaError::Connect(format!("cannot start the OPC UA client thread: {e}")))?;
        let outcome = ready_rx
            .recv_timeout(timeout * 3 + Duration::from_secs(1))
            .unwrap_or_else(|_| Err(OpcUaError::Timeout(format!("connecting to {url}"))));
        match outcome {
            Ok(()) => {
                Ok(OpcUaClient { url, values, jobs: Some(job_tx), thread: Some(thread), stats, timeout, security })
            }
            Err(e) => {
                drop(job_tx);
                let _ = thread.join();
                Err(e)
            }
        }
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The security mode of the channel.
    pub fn security(&self) -> SecurityMode {
        self.security
    }

    /// The monitored items' values, in the order the server published them.
    pub fn receiver(&self) -> &Receiver<DataChange> {
        &self.values
    }

    /// Counters since the client started.
    pub fn stats(&self) -> StatsSnapshot {
        StatsSnapshot {
            received: self.stats.received.load(Ordering::Relaxed),
            dropped_channel_full: self.stats.dropped.load(Ordering::Relaxed),
            connection_losses: self.stats.losses.load(Ordering::Relaxed),
            reconnects: self.stats.reconnects.load(Ordering::Relaxed),
        }
    }

    /// Whether the session is up now.
    pub fn connected(&self) -> bool {
        self.stats.connected.load(Ordering::Relaxed)
    }

    /// Writes `value` as `data_type` to the Value attribute of `node`. The node's own StatusCode decides:
    /// anything but Good is [`OpcUaError::Refused`] with its name (BadNotWritable, BadUserAccessDenied,
    /// BadOutOfRange, BadTypeMismatch, ...). Values that do not fit the type are refused before sending.
    pub fn write(&self, node: &str, data_type: DataType, value: f64) -> Result<(), OpcUaError> {
        let id = parse_node(node)?;
        let v = to_variant(data_type, value).ok_or_else(|| {
            OpcUaError::Config(format!("{value} does not fit the data type {data_type:?} of node {node}"))
        })?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.call(Job::Write { node: id, name: node.to_string(), value: v, reply: tx }, &rx, node)
    }

    /// Reads the Value attribute of `node` as a number; a Bad status is [`OpcUaError::Refused`] with its name.
    pub fn read(&self, node: &str) -> Result<f64, OpcUaError> {
        let id = parse_node(node)?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.call(Job::Read { node: id, name: node.to_string(), reply: tx }, &rx, node)
    }

    fn call<T>(&self, job: Job, rx: &Receiver<Result<T, OpcUaError>>, node: &str) -> Result<T, OpcUaError> {
        let jobs = self.jobs.as_ref().ok_or_else(|| OpcUaError::Closed(self.url.clone()))?;
        jobs.try_send(job).map_err(|e| match e {
            tokio::sync::mpsc::error::TrySendError::Full(_) => {
                OpcUaError::Timeout(format!("{node} on {} (too many requests waiting)", self.url))
            }
            tokio::sync::mpsc::error::TrySendError::Closed(_) => OpcUaError::Closed(self.url.clone()),
        })?;
        match rx.recv_timeout(self.timeout + Duration::from_secs(1)) {
            Ok(r) => r,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                Err(OpcUaError::Timeout(format!("{node} on {}", self.url)))
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(OpcUaError::Closed(self.url.clone())),
        }
    }
}

impl Drop for OpcUaClient {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn parse_node(node: &str) -> Result<NodeId, OpcUaError> {
    NodeId::from_str(node).map_err(|_| {
        OpcUaError::Config(format!("\"{node}\" is not an OPC UA node id (e.g. ns=2;s=P101.Flow or ns=2;i=1001)"))
    })
}

fn identity_token(identity: &Identity) -> Result<IdentityToken, OpcUaError> {
    Ok(match identity {
        Identity::Anonymous => IdentityToken::Anonymous,
        Identity::UserName { user, password } => IdentityToken::new_user_name(user.clone(), password.clone()),
        Identity::X509 { cert, key } => {
            let bytes = std::fs::read(cert)
                .map_err(|e| OpcUaError::Config(format!("user certificate {}: {e}", cert.display())))?;
            let x509 = X509::from_der(&bytes)
                .or_else(|_| X509::from_pem(&bytes))
                .map_err(|e| OpcUaError::Config(format!("user certificate {}: {e}", cert.display())))?;
            let key = PrivateKey::read_pem_file(key)
                .map_err(|e| OpcUaError::Config(format!("user key {}: {e}", key.display())))?;
            IdentityToken::new_x509(x509, key)
        }
    })
}

fn to_variant(t: DataType, v: f64) -> Option<Variant> {
    let int = |lo: f64, hi: f64| (v.is_finite() && v.fract() == 0.0 && v >= lo && v <= hi).then_some(v);
    Some(match t {
        DataType::Double => Variant::Double(v),
        DataType::Float => Variant::Float(v as f32),
        DataType::Int16 => Variant::Int16(int(i16::MIN.into(), i16::MAX.into())? as i16),
        DataType::UInt16 => Variant::UInt16(int(0.0, u16::MAX.into())? as u16),
        DataType::Int32 => Variant::Int32(int(i32::MIN.into(), i32::MAX.into())? as i32),
        DataType::UInt32 => Variant::UInt32(int(0.0, u32::MAX.into())? as u32),
        DataType::Int64 => Variant::Int64(int(-9.007_199_254_740_992e15, 9.007_199_254_740_992e15)? as i64),
    })
}

/// What the twin takes from a data value the server sent for item `item`.
fn data_change(item: usize, dv: &DataValue) -> DataChange {
    DataChange {
        item,
        value: dv.value.as_ref().and_then(Variant::as_f64),
        source_unix_s: dv.source_timestamp.as_ref().map(unix_s),
        server_unix_s: dv.server_timestamp.as_ref().map(unix_s),
        status: dv.status.map_or(0, |s| s.bits()),
    }
}

/// Decodes one DataValue in OPC UA binary encoding (as a server sends it in a data change notification, with the
/// default decoding limits) and converts it as a subscription does. For fuzzing and tests of what a server may
/// send.
pub fn decode_data_change(bytes: &[u8], item: usize) -> Result<DataChange, String> {
    use opcua::types::BinaryDecodable;
    let ctx = opcua::types::ContextOwned::default();
    let dv = DataValue::decode(&mut std::io::Cursor::new(bytes), &ctx.context()).map_err(|e| e.to_string())?;
    Ok(data_change(item, &dv))
}

fn unix_s(t: &opcua::types::DateTime) -> f64 {
    t.ticks() as f64 / 1e7 - EPOCH_OFFSET_S
}

/// What a failed first connection means to the user, from the status it ended with.
fn connect_error(url: &str, status: StatusCode, config: &OpcUaConfig) -> OpcUaError {
    let name = status.sub_code().name();
    match name {
        "BadCertificateUntrusted" | "BadSecurityChecksFailed" | "BadCertificateInvalid" => {
            OpcUaError::Untrusted(format!(
                "the server certificate of {url} is not trusted ({name}): it was put in {}; move it to {} to \
                 trust it, or connect once with trust on first use",
                config.pki_dir.join("rejected").display(),
                config.pki_dir.join("trusted").display()
            ))
        }
        "BadUserAccessDenied" | "BadIdentityTokenRejected" | "BadIdentityTokenInvalid" | "BadUserSignatureInvalid" => {
            OpcUaError::AccessDenied(format!(
                "{url} refused the user's identity ({name}): check the user name and password, or the user certificate"
            ))
        }
        _ => OpcUaError::Connect(format!("cannot connect to {url}: {name}")),
    }
}

async fn run(
    config: OpcUaConfig,
    nodes: Vec<NodeId>,
    identity: IdentityToken,
    values: Sender<DataChange>,
    mut jobs: tokio::sync::mpsc::Receiver<Job>,
    ready: Sender<Result<(), OpcUaError>>,
    stats: Arc<Stats>,
) {
    let session = match connect(&config, &nodes, identity, values, stats.clone()).await {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    while let Some(job) = jobs.recv().await {
        let t = config.timeout;
        match job {
            Job::Write { node, name, value, reply } => {
                let wv = WriteValue {
                    node_id: node,
                    attribute_id: AttributeId::Value as u32,
                    index_range: NumericRange::None,
                    value: DataValue::value_only(value),
                };
                let r = match tokio::time::timeout(t, session.write(&[wv])).await {
                    Err(_) => Err(OpcUaError::Timeout(format!("write {name} on {}", config.url))),
                    Ok(Err(e)) => Err(OpcUaError::Service(format!("write {name} on {}: {e}", config.url))),
                    Ok(Ok(codes)) => match codes.first() {
                        Some(c) if c.is_good() => Ok(()),
                        Some(c) => Err(OpcUaError::Refused {
                            op: "write",
                            node: name,
                            status: c.sub_code().name().to_string(),
                        }),
                        None => Err(OpcUaError::Service(format!("write {name}: the server answered no status"))),
                    },
                };
                let _ = reply.send(r);
            }
            Job::Read { node, name, reply } => {
                let rv = ReadValueId::from(node);
                let r = match tokio::time::timeout(t, session.read(&[rv], TimestampsToReturn::Neither, 0.0)).await {
                    Err(_) => Err(OpcUaError::Timeout(format!("read {name} on {}", config.url))),
                    Ok(Err(e)) => Err(OpcUaError::Service(format!("read {name} on {}: {e}", config.url))),
                    Ok(Ok(dvs)) => match dvs.first() {
                        Some(dv) if dv.status.is_some_and(|s| !s.is_good()) => Err(OpcUaError::Refused {
                            op: "read",
                            node: name,
                            status: dv.status.unwrap_or_default().sub_code().name().to_string(),
                        }),
                        Some(dv) => dv
                            .value
                            .as_ref()
                            .and_then(Variant::as_f64)
                            .ok_or_else(|| OpcUaError::Service(format!("read {name}: the value is not a number"))),
                        None => Err(OpcUaError::Service(format!("read {name}: the server answered no value"))),
                    },
                };
                let _ = reply.send(r);
            }
        }
    }
    let _ = tokio::time::timeout(config.timeout, session.disconnect()).await;
}

/// Connects, waits for the session to be active, subscribes; then polls the session's event loop in a task of
/// its own (it reconnects and re-creates the subscription by itself) for as long as the runtime runs.
async fn connect(
    config: &OpcUaConfig,
    nodes: &[NodeId],
    identity: IdentityToken,
    values: Sender<DataChange>,
    stats: Arc<Stats>,
) -> Result<Arc<Session>, OpcUaError> {
    let url = config.url.as_str();
    let deadline = Instant::now() + config.timeout;
    let (policy, mode) = match (config.security, config.policy) {
        (SecurityMode::None, _) => (SecurityPolicy::None, MessageSecurityMode::None),
        (m, p) => (
            match p {
                Policy::Basic256Sha256 => SecurityPolicy::Basic256Sha256,
                Policy::Aes128Sha256RsaOaep => SecurityPolicy::Aes128Sha256RsaOaep,
                Policy::Aes256Sha256RsaPss => SecurityPolicy::Aes256Sha256RsaPss,
            },
            if m == SecurityMode::Sign { MessageSecurityMode::Sign } else { MessageSecurityMode::SignAndEncrypt },
        ),
    };
    let mut client = ClientBuilder::new()
        .application_name(config.application.clone())
        .application_uri(format!("urn:{}:twin", config.application))
        .product_uri("urn:twin")
        .pki_dir(config.pki_dir.clone())
        .create_sample_keypair(true)
        .trust_server_certs(config.trust_on_first_use)
        .verify_server_certs(true)
        .session_retry_limit(-1)
        .session_retry_initial(Duration::from_millis(250))
        .session_retry_max(Duration::from_secs(2))
        .request_timeout(config.timeout)
        .session_timeout(60_000)
        .client()
        .map_err(|e| OpcUaError::Config(format!("OPC UA client for {url}: {}", e.join("; "))))?;
    let endpoint = (url, policy.to_str(), mode);
    let (session, event_loop) =
        match tokio::time::timeout_at(deadline.into(), client.connect_to_matching_endpoint(endpoint, identity)).await {
            Err(_) => return Err(OpcUaError::Timeout(format!("connecting to {url}"))),
            Ok(Err(e)) if e.status() == StatusCode::BadTcpEndpointUrlInvalid => {
                return Err(OpcUaError::Connect(format!(
                    "{url} offers no endpoint with security {mode:?} and policy {}",
                    policy.to_str()
                )));
            }
            Ok(Err(e)) => return Err(connect_error(url, e.status(), config)),
            Ok(Ok(s)) => s,
        };
    let mut events = Box::pin(event_loop.enter());
    // The first connection: its failure is the caller's error (the loop would retry for ever).
    loop {
        match tokio::time::timeout_at(deadline.into(), events.next()).await {
            Err(_) => return Err(OpcUaError::Timeout(format!("connecting to {url}"))),
            Ok(None) => return Err(OpcUaError::Connect(format!("cannot connect to {url}: the session closed"))),
            Ok(Some(Err(s) | Ok(SessionPollResult::ReconnectFailed(s) | SessionPollResult::ConnectionLost(s)))) => {
                return Err(connect_error(url, s, config));
            }
            Ok(Some(Ok(SessionPollResult::Reconnected(_)))) => break,
            Ok(Some(Ok(_))) => {}
        }
    }
    stats.connected.store(true, Ordering::Relaxed);
    let loop_stats = stats.clone();
    let loop_session = session.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.next().await {
            match ev {
                Ok(SessionPollResult::ConnectionLost(_)) => {
                    loop_stats.connected.store(false, Ordering::Relaxed);
                    loop_stats.losses.fetch_add(1, Ordering::Relaxed);
                }
                Ok(SessionPollResult::Reconnected(_)) => {
                    loop_stats.connected.store(true, Ordering::Relaxed);
                    loop_stats.reconnects.fetch_add(1, Ordering::Relaxed);
                    // async-opcua 0.19 re-creates the subscription (or transfers it) while reconnecting, and its
                    // publish trigger then fires before the new connection's publish loop exists, which waits for
                    // a later one: without this nudge no publish request is sent and the server lets the
                    // subscription expire.
                    loop_session.trigger_publish_now();
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        loop_stats.connected.store(false, Ordering::Relaxed);
    });
    if nodes.is_empty() {
        return Ok(session);
    }
    let cb_stats = stats.clone();
    let callback = DataChangeCallback::new(move |dv: DataValue, item: &MonitoredItem| {
        let change = data_change((item.client_handle() as usize).saturating_sub(1), &dv);
        match values.try_send(change) {
            Ok(()) => cb_stats.received.fetch_add(1, Ordering::Relaxed),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                cb_stats.dropped.fetch_add(1, Ordering::Relaxed)
            }
        };
    });
    let remaining = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(500));
    let sub = tokio::time::timeout(
        remaining,
        session.create_subscription(config.publishing_interval, 60, 10, 0, 0, true, callback),
    )
    .await
    .map_err(|_| OpcUaError::Timeout(format!("creating the subscription on {url}")))?
    .map_err(|e| OpcUaError::Service(format!("creating the subscription on {url}: {e}")))?;
    let requests: Vec<MonitoredItemCreateRequest> = config
        .items
        .iter()
        .zip(nodes)
        .enumerate()
        .map(|(i, (spec, node))| {
            let filter = if spec.deadband > 0.0 {
                ExtensionObject::from_message(DataChangeFilter {
                    trigger: DataChangeTrigger::StatusValue,
                    deadband_type: DeadbandType::Absolute as u32,
                    deadband_value: spec.deadband,
                })
            } else {
                ExtensionObject::null()
            };
            MonitoredItemCreateRequest {
                item_to_monitor: ReadValueId::from(node.clone()),
                monitoring_mode: MonitoringMode::Reporting,
                requested_parameters: MonitoringParameters {
                    client_handle: i as u32 + 1,
                    sampling_interval: spec.sampling_interval.as_secs_f64() * 1000.0,
                    filter,
                    queue_size: spec.queue_size,
                    discard_oldest: true,
                },
            }
        })
        .collect();
    let results =
        tokio::time::timeout(remaining, session.create_monitored_items(sub, TimestampsToReturn::Both, requests))
            .await
            .map_err(|_| OpcUaError::Timeout(format!("creating the monitored items on {url}")))?
            .map_err(|e| OpcUaError::Service(format!("creating the monitored items on {url}: {e}")))?;
    for (r, spec) in results.iter().zip(&config.items) {
        if !r.result.status_code.is_good() {
            return Err(OpcUaError::Refused {
                op: "monitor",
                node: spec.node.clone(),
                status: r.result.status_code.sub_code().name().to_string(),
            });
        }
    }
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opcua::types::{Argument, BinaryDecodable, ContextOwned};

    /// An Argument in OPC UA binary encoding (Part 6, 5.2): name, a two-byte NodeId, the value rank, the array
    /// dimensions, an empty LocalizedText.
    fn argument_bytes(value_rank: i32, dimensions: &[u32]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&1i32.to_le_bytes());
        b.push(b'x');
        b.extend_from_slice(&[0x00, 11]); // i=11, Double
        b.extend_from_slice(&value_rank.to_le_bytes());
        b.extend_from_slice(&(dimensions.len() as i32).to_le_bytes());
        for d in dimensions {
            b.extend_from_slice(&d.to_le_bytes());
        }
        b.push(0); // LocalizedText with neither locale nor text
        b
    }

    fn decode_argument(bytes: &[u8]) -> Result<Argument, String> {
        let ctx = ContextOwned::default();
        Argument::decode(&mut std::io::Cursor::new(bytes), &ctx.context()).map_err(|e| e.to_string())
    }

    /// The fuzzer's finding (fuzz/corpus/opcua_value/oom-argument-value-rank): about 200 bytes, a DataValue holding
    /// a ProgramDiagnosticDataType whose Argument claims a value rank of about 5 × 10^8, made async-opcua-types
    /// 0.19.0 pad the array dimensions to that rank and allocate 2 GB. With the vendored fix it is a decoding error.
    #[test]
    fn a_data_value_with_a_huge_argument_value_rank_is_refused_without_allocating_it() {
        let finding = include_bytes!("../../../fuzz/corpus/opcua_value/oom-argument-value-rank");
        let err = decode_data_change(finding, 0).expect_err("the finding must not decode");
        assert!(err.contains("value rank"), "{err}");
    }

    #[test]
    fn an_argument_value_rank_beyond_the_array_limit_is_a_decoding_error() {
        let err = decode_argument(&argument_bytes(i32::MAX, &[])).unwrap_err();
        assert!(err.contains("value rank 2147483647") && err.contains("decoding limit"), "{err}");
    }

    /// What upstream's padding (async-opcua#219) is for stays: fewer dimensions than a small rank are padded with 0,
    /// and more are refused.
    #[test]
    fn an_argument_with_fewer_dimensions_than_its_rank_is_still_padded() {
        let arg = decode_argument(&argument_bytes(2, &[])).unwrap();
        assert_eq!(arg.value_rank, 2);
        assert_eq!(arg.array_dimensions, Some(vec![0, 0]));
        let arg = decode_argument(&argument_bytes(1, &[4])).unwrap();
        assert_eq!(arg.array_dimensions, Some(vec![4]));
        assert!(decode_argument(&argument_bytes(1, &[4, 4])).is_err());
    }
}
