//! The MQTT client thread: rumqttc's event loop on a tokio current-thread runtime, bridged to the twin by a
//! bounded crossbeam channel. It never awaits on a full request channel (acks and subscribes use `try_*` and
//! are retried), acknowledges QoS 1 only after the message was handed to the twin, reconnects with
//! exponential backoff and jitter, re-subscribes whenever the broker has no session for us, and reads the
//! socket in batches while messages stream in fast ([`ReadPacer`]).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use rand::Rng;
use rumqttc::{AsyncClient, ClientError, Event, EventLoop, MqttOptions, Outgoing, Packet, Publish, SubscribeFilter};
use tokio::sync::Notify;

use crate::{MqttConfig, MqttError, Qos, topic};

/// One message from the broker, as handed to the twin.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub topic: String,
    pub payload: Vec<u8>,
    /// Wall-clock time the client thread received it, seconds since the Unix epoch.
    pub received_unix_s: f64,
    pub qos: Qos,
    /// The broker's DUP flag: this may be a redelivery of a message already received.
    pub duplicate_flag: bool,
}

/// A snapshot of the client's counters (all counts since `start`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MqttStats {
    /// Whether the last ConnAck was not followed by a connection error yet.
    pub connected: bool,
    /// Successful connections (ConnAck accepted).
    pub connects: u64,
    /// Connection attempts after the first one (each reconnect try, successful or not).
    pub reconnect_attempts: u64,
    /// Times the subscription list was sent because a ConnAck said `session_present == false`.
    pub resubscribes: u64,
    /// PUBLISH packets received from the broker (including those then dropped).
    pub received: u64,
    /// Received messages handed to the twin's channel.
    pub delivered: u64,
    /// Received messages dropped because the twin's channel was full (QoS 1 ones are not acknowledged).
    pub dropped_channel_full: u64,
    /// QoS 1 acknowledgements queued to the broker.
    pub acked: u64,
    /// Messages accepted by [`MqttClient::publish`] into the outgoing queue.
    pub published: u64,
    /// Messages refused by [`MqttClient::publish`] (queue full, too large, bad topic, client stopped).
    pub publish_dropped: u64,
    /// QoS 1 publications the broker confirmed (PUBACKs received): what a publisher waits for before it
    /// disconnects.
    pub publish_confirmed: u64,
    /// Reconnects forced to make the broker redeliver QoS 1 messages dropped on a full channel (persistent
    /// sessions only, at most once per second, once the channel is at most half full).
    pub redelivery_reconnects: u64,
    /// SUBSCRIBE packets queued: a subscription list is sent in packets of at most `max_packet_bytes`, so a
    /// site's thousands of topics take several. Every filter is subscribed once `subacks` reaches this after a
    /// resubscribe.
    pub subscribe_packets: u64,
    /// SubAck packets received (each answers one SUBSCRIBE packet).
    pub subacks: u64,
    /// Subscriptions the broker refused (SubAck failure codes).
    pub subscribe_failures: u64,
    /// The latest connection or protocol error, if any (never contains credentials).
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    connected: AtomicBool,
    connects: AtomicU64,
    reconnect_attempts: AtomicU64,
    resubscribes: AtomicU64,
    subscribe_packets: AtomicU64,
    received: AtomicU64,
    delivered: AtomicU64,
    dropped_channel_full: AtomicU64,
    acked: AtomicU64,
    published: AtomicU64,
    publish_dropped: AtomicU64,
    publish_confirmed: AtomicU64,
    redelivery_reconnects: AtomicU64,
    subacks: AtomicU64,
    subscribe_failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn set_error(&self, e: String) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = Some(e);
        }
    }
}

/// Handle to the MQTT client thread. Dropping it stops the thread without waiting; [`MqttClient::shutdown`]
/// disconnects cleanly and joins (bounded).
pub struct MqttClient {
    rx: Receiver<Incoming>,
    client: AsyncClient,
    shared: Arc<Shared>,
    wake: Arc<Notify>,
    done_rx: Receiver<()>,
    thread: Option<JoinHandle<()>>,
    max_packet_bytes: usize,
}

/// How often acks held for an [`crate::AckGate`] are looked at while any wait.
const GATE_POLL: Duration = Duration::from_millis(20);
/// How long [`MqttClient::shutdown`] waits for the thread.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);
/// Acks waiting for room in rumqttc's request queue, at most (beyond that, the message is left unacked and
/// the broker redelivers it).
const MAX_DEFERRED_ACKS: usize = 65_536;

fn now_unix_s() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl MqttClient {
    /// Validates `cfg`, then spawns the client thread (tokio current-thread runtime). Returns at once; the
    /// connection is made (and re-made) in the background, see [`MqttClient::stats`].
    pub fn start(cfg: MqttConfig) -> Result<Self, MqttError> {
        cfg.validate()?;
        let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
        opts.set_keep_alive(Duration::from_secs(cfg.keep_alive_s))
            .set_clean_session(cfg.clean_session)
            .set_max_packet_size(cfg.max_packet_bytes, cfg.max_packet_bytes)
            .set_manual_acks(true);
        if let Some(user) = &cfg.username {
            opts.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
        }
        if let Some(w) = &cfg.will {
            opts.set_last_will(rumqttc::LastWill::new(&w.topic, w.payload.clone(), w.qos.to_rumqttc(), w.retain));
        }
        if let Some(tls) = &cfg.tls {
            let rustls_cfg = crate::tls::client_config(tls)?;
            opts.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(rustls_cfg)));
        }
        let request_capacity = cfg.channel_capacity.clamp(64, 65_536);
        let max_packet_bytes = cfg.max_packet_bytes;
        let (tx, rx) = crossbeam_channel::bounded(cfg.channel_capacity);
        let shared = Arc::new(Shared::default());
        let wake = Arc::new(Notify::new());
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        let (ready_tx, ready_rx) = crossbeam_channel::bounded::<Result<AsyncClient, String>>(1);
        let thread = {
            let shared = shared.clone();
            let wake = wake.clone();
            std::thread::Builder::new()
                .name(format!("mqtt-{}", cfg.client_id))
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    rt.block_on(async move {
                        // AsyncClient::new needs no runtime, but the event loop's timers do: build both here.
                        let (client, mut eventloop) = AsyncClient::new(opts, request_capacity);
                        // Telemetry and acks are small packets: Nagle's algorithm would hold them back for up
                        // to the peer's delayed-ACK time (40 ms on Linux).
                        let mut net = eventloop.network_options();
                        net.set_tcp_nodelay(true);
                        eventloop.set_network_options(net);
                        let _ = ready_tx.send(Ok(client.clone()));
                        let task = EventTask::new(cfg, client, tx, shared, wake);
                        task.run(eventloop).await;
                    });
                    let _ = done_tx.send(());
                })
                .map_err(|e| MqttError::Spawn(e.to_string()))?
        };
        let client = match ready_rx.recv() {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(MqttError::Spawn(format!("tokio runtime: {e}"))),
            Err(_) => return Err(MqttError::Spawn("client thread exited during start".into())),
        };
        Ok(MqttClient { rx, client, shared, wake, done_rx, thread: Some(thread), max_packet_bytes })
    }

    /// The twin's end of the bounded message channel.
    pub fn receiver(&self) -> &Receiver<Incoming> {
        &self.rx
    }

    /// Queues a message without blocking (rumqttc `try_publish`). While disconnected, messages wait in the
    /// queue and go out after the reconnect. Every refusal is counted in `publish_dropped` and returned as an
    /// error: `QueueFull`, `PayloadTooLarge`, `InvalidTopic` or `Closed`.
    pub fn publish(&self, topic: &str, payload: Vec<u8>, qos: Qos, retain: bool) -> Result<(), MqttError> {
        let refuse = |e: MqttError| {
            Shared::inc(&self.shared.publish_dropped);
            Err(e)
        };
        if let Err(reason) = topic::validate_topic(topic) {
            return refuse(MqttError::InvalidTopic { topic: topic.to_string(), reason: reason.to_string() });
        }
        // Fixed header (<= 5) + topic length (2) + topic + packet id (2) must fit too.
        let packet_bytes = payload.len() + topic.len() + 9;
        if packet_bytes > self.max_packet_bytes {
            return refuse(MqttError::PayloadTooLarge { bytes: packet_bytes, max_bytes: self.max_packet_bytes });
        }
        if self.shared.stop.load(Ordering::Relaxed) || self.done_rx.is_full() {
            return refuse(MqttError::Closed);
        }
        match self.client.try_publish(topic, qos.to_rumqttc(), retain, payload) {
            Ok(()) => {
                Shared::inc(&self.shared.published);
                Ok(())
            }
            Err(ClientError::TryRequest(_)) => refuse(MqttError::QueueFull),
            Err(ClientError::Request(_)) => refuse(MqttError::Closed),
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MqttStats {
        let s = &self.shared;
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MqttStats {
            connected: s.connected.load(Ordering::Relaxed),
            connects: g(&s.connects),
            reconnect_attempts: g(&s.reconnect_attempts),
            resubscribes: g(&s.resubscribes),
            subscribe_packets: g(&s.subscribe_packets),
            received: g(&s.received),
            delivered: g(&s.delivered),
            dropped_channel_full: g(&s.dropped_channel_full),
            acked: g(&s.acked),
            published: g(&s.published),
            publish_dropped: g(&s.publish_dropped),
            publish_confirmed: g(&s.publish_confirmed),
            redelivery_reconnects: g(&s.redelivery_reconnects),
            subacks: g(&s.subacks),
            subscribe_failures: g(&s.subscribe_failures),
            last_error: s.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// Sends DISCONNECT (when connected) and joins the thread, waiting at most 3 s in total.
    pub fn shutdown(mut self) {
        self.signal_stop();
        if self.done_rx.recv_timeout(SHUTDOWN_WAIT).is_ok()
            && let Some(t) = self.thread.take()
        {
            let _ = t.join();
        }
        // Otherwise the thread is left detached; it exits on its own once its current poll returns.
    }

    fn signal_stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }
}

impl Drop for MqttClient {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// Delay before reconnect attempt `failed_attempts` (0-based): `min_ms * 2^n` capped at `max_ms`, plus
/// `jitter_fraction` (0..1) × 20 % of that.
fn backoff_delay(min_ms: u64, max_ms: u64, failed_attempts: u32, jitter_fraction: f64) -> Duration {
    let base = min_ms.saturating_mul(1u64 << failed_attempts.min(32)).min(max_ms);
    let jitter = (base as f64 * 0.2 * jitter_fraction.clamp(0.0, 1.0)) as u64;
    Duration::from_millis(base.saturating_add(jitter))
}

/// A SUBSCRIBE packet's bytes besides its filters: fixed header (at most 5) and packet id (2), with room to spare.
const SUBSCRIBE_OVERHEAD_BYTES: usize = 16;

/// State of the task that polls the event loop.
struct EventTask {
    cfg: MqttConfig,
    client: AsyncClient,
    tx: Sender<Incoming>,
    shared: Arc<Shared>,
    wake: Arc<Notify>,
    /// Acks that did not fit into rumqttc's request queue yet (only valid for the current connection).
    deferred_acks: VecDeque<Publish>,
    /// The first filter of the subscription list still to be sent after a ConnAck without a session.
    resubscribe_from: Option<usize>,
    /// QoS 1 messages dropped (not acked) since the last ConnAck.
    unacked_drops: u64,
    /// Messages handed to the twin, count.
    handed: u64,
    /// With an ack gate: each handed message's number, with the publish to acknowledge once the gate reaches it
    /// (none for QoS 0, or after a reconnect voided it: the broker redelivers what was not acknowledged).
    gated: VecDeque<(u64, Option<Publish>)>,
    last_forced_reconnect: Option<Instant>,
    failed_attempts: u32,
    /// Whether the socket is read in batches (see [`ReadPacer`]).
    pacer: ReadPacer,
}

impl EventTask {
    fn new(cfg: MqttConfig, client: AsyncClient, tx: Sender<Incoming>, shared: Arc<Shared>, wake: Arc<Notify>) -> Self {
        EventTask {
            cfg,
            client,
            tx,
            shared,
            wake,
            deferred_acks: VecDeque::new(),
            resubscribe_from: None,
            unacked_drops: 0,
            handed: 0,
            gated: VecDeque::new(),
            last_forced_reconnect: None,
            failed_attempts: 0,
            pacer: ReadPacer::default(),
        }
    }

    fn backoff(&mut self) -> Duration {
        let d = backoff_delay(
            self.cfg.reconnect_min_ms,
            self.cfg.reconnect_max_ms,
            self.failed_attempts,
            rand::rng().random(),
        );
        self.failed_attempts = self.failed_attempts.saturating_add(1);
        d
    }

    async fn run(mut self, mut eventloop: EventLoop) {
        let mut first_attempt = true;
        let mut connected = false;
        // One registration with the Notify for the whole run (a fresh `notified()` each pass locks its waiter
        // list twice a message); re-armed after it fires.
        let wake = self.wake.clone();
        let mut woken = std::pin::pin!(wake.notified());
        while !self.shared.stop.load(Ordering::Relaxed) {
            self.retry_deferred();
            if connected && self.should_force_redelivery() {
                // Dropping the socket (no DISCONNECT) keeps the persistent session; the broker redelivers the
                // unacked messages after the reconnect.
                eventloop.clean();
                connected = false;
                self.shared.connected.store(false, Ordering::Relaxed);
                self.deferred_acks.clear();
                Shared::inc(&self.shared.redelivery_reconnects);
                self.last_forced_reconnect = Some(Instant::now());
            }
            if !connected {
                if !first_attempt {
                    Shared::inc(&self.shared.reconnect_attempts);
                }
                first_attempt = false;
            }
            self.release_gated();
            let waiting_gate = self.gated.front().is_some_and(|(_, p)| p.is_some());
            let event = if self.pacer.draining {
                // Batching: take what the socket already holds without waiting; once it is empty, pause.
                let mut poll = std::pin::pin!(eventloop.poll());
                match std::future::poll_fn(|cx| Poll::Ready(poll.as_mut().poll(cx))).await {
                    Poll::Ready(event) => event,
                    Poll::Pending => {
                        // Off the runtime's epoll on purpose: a thread asleep there is woken by each of the
                        // broker's writes; asleep here, they queue on the socket for the next read.
                        std::thread::sleep(BATCH_PAUSE);
                        self.pacer.draining = false;
                        continue;
                    }
                }
            } else {
                tokio::select! {
                    biased;
                    _ = woken.as_mut() => {
                        woken.set(wake.notified());
                        continue;
                    }
                    // Acks held for the gate are looked at again soon (it moves on the twin's side). The timer is
                    // made only when the branch is polled.
                    _ = async { tokio::time::sleep(GATE_POLL).await }, if waiting_gate => continue,
                    ev = eventloop.poll() => ev,
                }
            };
            match event {
                Ok(event) => {
                    let before = self.handed;
                    connected |= self.on_event(event);
                    // A read from the socket parses up to 10 packets at once; the rest of them wait in the
                    // state's queue, where the next poll would take them one by one.
                    while let Some(event) = eventloop.state.events.pop_front() {
                        connected |= self.on_event(event);
                    }
                    self.pacer.after_read(self.handed - before, Instant::now());
                }
                Err(e) => {
                    connected = false;
                    self.shared.connected.store(false, Ordering::Relaxed);
                    self.deferred_acks.clear();
                    self.shared.set_error(explain(&e.to_string()));
                    let delay = self.backoff();
                    tokio::select! {
                        biased;
                        _ = woken.as_mut() => woken.set(wake.notified()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        if connected && self.client.try_disconnect().is_ok() {
            let _ = tokio::time::timeout(Duration::from_millis(1000), async {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await;
        }
        self.shared.connected.store(false, Ordering::Relaxed);
    }

    /// Handles one event of the connection; true for a ConnAck (the connection is up).
    fn on_event(&mut self, event: Event) -> bool {
        match event {
            Event::Incoming(Packet::ConnAck(ack)) => {
                self.failed_attempts = 0;
                self.unacked_drops = 0;
                self.deferred_acks.clear();
                // Acks of the old connection are void: the persistent session redelivers those messages.
                self.gated.iter_mut().for_each(|(_, p)| *p = None);
                self.shared.connected.store(true, Ordering::Relaxed);
                Shared::inc(&self.shared.connects);
                if !ack.session_present && !self.cfg.subscriptions.is_empty() {
                    self.resubscribe_from = Some(0);
                    self.retry_deferred();
                }
                return true;
            }
            Event::Incoming(Packet::Publish(p)) => self.on_publish(p),
            Event::Incoming(Packet::PubAck(_)) => Shared::inc(&self.shared.publish_confirmed),
            Event::Incoming(Packet::SubAck(ack)) => {
                Shared::inc(&self.shared.subacks);
                let failed =
                    ack.return_codes.iter().filter(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)).count();
                if failed > 0 {
                    self.shared.subscribe_failures.fetch_add(failed as u64, Ordering::Relaxed);
                    self.shared.set_error(format!("broker refused {failed} subscription(s)"));
                }
            }
            _ => {}
        }
        false
    }

    fn should_force_redelivery(&self) -> bool {
        !self.cfg.clean_session
            && self.unacked_drops > 0
            && self.tx.len() <= self.cfg.channel_capacity / 2
            && self.last_forced_reconnect.is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
    }

    /// Sends what could not be queued before: acks (oldest first) and the subscription list.
    fn retry_deferred(&mut self) {
        while let Some(p) = self.deferred_acks.front() {
            match self.client.try_ack(p) {
                Ok(()) => {
                    Shared::inc(&self.shared.acked);
                    self.deferred_acks.pop_front();
                }
                Err(_) => break,
            }
        }
        // In packets that fit `max_packet_bytes` (rumqttc refuses a larger one, and the connection with it).
        while let Some(from) = self.resubscribe_from {
            let subs = &self.cfg.subscriptions;
            let budget = self.cfg.max_packet_bytes.saturating_sub(SUBSCRIBE_OVERHEAD_BYTES);
            let (mut to, mut bytes) = (from, 0);
            while to < subs.len() && (to == from || bytes + subs[to].0.len() + 3 <= budget) {
                bytes += subs[to].0.len() + 3; // length prefix and options byte
                to += 1;
            }
            let filters =
                subs[from..to].iter().map(|(f, q)| SubscribeFilter::new(f.clone(), q.to_rumqttc())).collect::<Vec<_>>();
            if self.client.try_subscribe_many(filters).is_err() {
                break; // the request queue is full: the rest goes on the next pass
            }
            Shared::inc(&self.shared.subscribe_packets);
            self.resubscribe_from = (to < subs.len()).then_some(to);
            if self.resubscribe_from.is_none() {
                Shared::inc(&self.shared.resubscribes);
            }
        }
    }

    /// Acknowledges the held messages the gate has reached.
    fn release_gated(&mut self) {
        let Some(gate) = &self.cfg.ack_gate else { return };
        let through = gate.0.load(Ordering::SeqCst);
        while self.gated.front().is_some_and(|(n, _)| *n <= through) {
            let Some((_, Some(p))) = self.gated.pop_front() else { continue };
            self.ack(p);
        }
    }

    /// Acknowledges `p` now, or after the acks already waiting for room in rumqttc's queue (at most
    /// [`MAX_DEFERRED_ACKS`]; beyond, it is left unacknowledged and the broker redelivers it).
    fn ack(&mut self, p: Publish) {
        if self.deferred_acks.is_empty() && self.client.try_ack(&p).is_ok() {
            Shared::inc(&self.shared.acked);
        } else if self.deferred_acks.len() < MAX_DEFERRED_ACKS {
            self.deferred_acks.push_back(p);
        }
    }

    fn on_publish(&mut self, mut p: Publish) {
        Shared::inc(&self.shared.received);
        let needs_ack = p.qos != rumqttc::QoS::AtMostOnce;
        // An ack needs only the packet id and QoS: the topic and payload move out (a held ack keeps no buffer).
        let msg = Incoming {
            topic: std::mem::take(&mut p.topic),
            payload: std::mem::take(&mut p.payload).to_vec(),
            received_unix_s: now_unix_s(),
            qos: Qos::from_rumqttc(p.qos),
            duplicate_flag: p.dup,
        };
        match self.tx.try_send(msg) {
            Ok(()) => {
                Shared::inc(&self.shared.delivered);
                self.handed += 1;
                if self.cfg.ack_gate.is_some() {
                    // Bounded: past the limit the oldest is left unacknowledged (the broker redelivers it).
                    if self.gated.len() >= MAX_DEFERRED_ACKS {
                        self.gated.pop_front();
                    }
                    self.gated.push_back((self.handed, needs_ack.then_some(p)));
                } else if needs_ack {
                    self.ack(p);
                }
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                Shared::inc(&self.shared.dropped_channel_full);
                if needs_ack {
                    self.unacked_drops += 1;
                }
            }
        }
    }
}

/// Above this receive rate the socket is read in batches.
const BATCH_ABOVE_MSG_PER_S: u64 = 5_000;
/// The pause between two reads while batching.
const BATCH_PAUSE: Duration = Duration::from_micros(200);
/// The window the receive rate is measured over.
const RATE_WINDOW: Duration = Duration::from_millis(10);

/// Reads in batches while messages stream in fast. A client that reads each message as it lands sleeps in
/// epoll between them, so the broker's every write wakes it (a cross-CPU wake-up, paid on the broker's
/// thread), and each wake-up costs this thread a context switch, the twin's thread another and the socket an
/// ACK. Above [`BATCH_ABOVE_MSG_PER_S`], once a read that brought messages has emptied the socket, the thread
/// pauses [`BATCH_PAUSE`] and the next read takes what arrived meanwhile in one go; below it, each message is
/// read as it lands.
#[derive(Default)]
struct ReadPacer {
    /// Messages handed since `window_start`.
    window_msgs: u64,
    window_start: Option<Instant>,
    /// The last window's rate was above [`BATCH_ABOVE_MSG_PER_S`].
    batching: bool,
    /// The next read must not wait: the socket is being emptied before a pause.
    draining: bool,
}

impl ReadPacer {
    /// After a read that handed `handed` messages at `now`.
    fn after_read(&mut self, handed: u64, now: Instant) {
        self.window_msgs += handed;
        let start = *self.window_start.get_or_insert(now);
        let span = now.saturating_duration_since(start);
        if span >= RATE_WINDOW {
            self.batching = self.window_msgs * 1_000_000 >= BATCH_ABOVE_MSG_PER_S * span.as_micros() as u64;
            self.window_msgs = 0;
            self.window_start = Some(now);
        }
        self.draining = self.batching && handed > 0;
    }
}

/// A connection error as the engineer needs it: a broker that refuses the client's certificate (mutual TLS) says so
/// through a TLS alert, which rustls reports as "received fatal alert: …".
fn explain(error: &str) -> String {
    let Some(alert) = error.split("received fatal alert: ").nth(1).map(str::trim) else {
        return error.to_string();
    };
    match alert {
        "CertificateRequired" => format!(
            "the broker requires a client certificate and none was sent (TLS alert {alert}): give the scenario's \
             broker client_cert and client_key ({error})"
        ),
        "UnknownCA"
        | "BadCertificate"
        | "CertificateUnknown"
        | "UnsupportedCertificate"
        | "CertificateExpired"
        | "CertificateRevoked"
        | "AccessDenied"
        | "DecryptError" => format!(
            "the broker refused the client certificate (TLS alert {alert}): it must be signed by a CA the broker \
             trusts, valid now, and match its key ({error})"
        ),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_batched_only_above_the_rate_and_only_after_a_read_that_brought_messages() {
        let t0 = Instant::now();
        let at = |us: u64| t0 + Duration::from_micros(us);
        let mut p = ReadPacer::default();
        // 1,000 msg/s: one message a millisecond for two windows; each is read as it lands.
        for i in 0..=20 {
            p.after_read(1, at(i * 1_000));
            assert!(!p.draining, "batching at 1,000 msg/s (read {i})");
        }
        // 20,000 msg/s: one message every 50 µs; batching from the first window measured at that rate.
        let start = 21_000;
        for i in 0..400 {
            p.after_read(1, at(start + i * 50));
        }
        assert!(p.batching && p.draining, "not batching at 20,000 msg/s");
        p.after_read(0, at(start + 20_010));
        assert!(!p.draining, "a read that brought nothing starts no pause");
        // Back to one message every 2 ms: batching ends with the next window.
        for i in 1..=12 {
            p.after_read(1, at(start + 20_010 + i * 2_000));
        }
        assert!(!p.batching && !p.draining, "still batching at 500 msg/s");
    }

    #[test]
    fn backoff_doubles_from_min_caps_at_max_and_adds_bounded_jitter() {
        let ms = |n, j| backoff_delay(100, 1000, n, j).as_millis();
        assert_eq!(
            [ms(0, 0.0), ms(1, 0.0), ms(2, 0.0), ms(3, 0.0), ms(4, 0.0), ms(40, 0.0)],
            [100, 200, 400, 800, 1000, 1000]
        );
        assert_eq!(ms(0, 1.0), 120, "jitter adds up to 20 %");
        assert_eq!(ms(10, 1.0), 1200);
        assert_eq!(backoff_delay(u64::MAX, u64::MAX, 5, 0.0).as_millis(), u64::MAX as u128, "no overflow");
    }

    #[test]
    fn start_rejects_an_invalid_config_without_spawning() {
        let mut cfg = MqttConfig::from_url("mqtt://127.0.0.1:1", "x").unwrap();
        cfg.keep_alive_s = 30;
        assert!(matches!(MqttClient::start(cfg), Err(MqttError::InvalidConfig(_))));
    }

    #[test]
    fn unreachable_broker_counts_reconnect_attempts_and_shuts_down_promptly() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cfg = MqttConfig::from_url(&format!("mqtt://127.0.0.1:{port}"), "x").unwrap();
        cfg.reconnect_min_ms = 10;
        cfg.reconnect_max_ms = 40;
        let c = MqttClient::start(cfg).unwrap();
        let t = Instant::now();
        while c.stats().reconnect_attempts < 3 && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let s = c.stats();
        assert!(s.reconnect_attempts >= 3 && !s.connected && s.connects == 0, "{s:?}");
        assert!(s.last_error.is_some());
        // Publishing while disconnected queues (non-blocking).
        c.publish("a/b", b"x".to_vec(), Qos::AtLeastOnce, false).unwrap();
        let t = Instant::now();
        c.shutdown();
        assert!(t.elapsed() < SHUTDOWN_WAIT, "shutdown joined within the bound");
    }
}
