import CMosquitto
import Foundation

/// An MQTT client on libmosquitto that keeps its broker session up by itself.
///
/// Threading and lifetime: the client owns one network thread, started by `start()` or `connect()`, which runs
/// libmosquitto's loop, reconnects with capped exponential backoff and re-subscribes. libmosquitto's callbacks run on
/// that thread; they only copy data out and resume waiters or yield to `messages`. All other methods may be called
/// from any thread. `close()` ends the session, joins the thread and frees the C handle; it is safe to call twice and
/// must be called before the last reference is dropped (the network thread keeps the client alive until then).
public final class MQTTClient: @unchecked Sendable {   // unchecked: libmosquitto's handle, a C pointer, and the fields below guarded by an NSCondition, whose wait the network thread's backoff needs
    public let options: MQTTOptions
    /// Messages on the subscribed topics, in arrival order; finishes when the client is closed.
    public let messages: MQTTInbox
    /// Session changes: each CONNACK accepted and each loss of the session; finishes when the client is closed.
    public let connectionEvents: AsyncStream<MQTTConnectionEvent>

    let eventSink: AsyncStream<MQTTConnectionEvent>.Continuation
    // The fields below are guarded by `condition`, which also wakes the network thread from its backoff wait.
    // Callbacks take it too; the client never calls libmosquitto in a way that runs a callback synchronously, so
    // holding it across a mosquitto_publish or mosquitto_subscribe call cannot deadlock, and a PUBACK or SUBACK
    // always finds its waiter registered.
    let condition = NSCondition()
    var handle: OpaquePointer?
    var threadRunning = false
    let threadFinished = DispatchSemaphore(value: 0)
    var closing = false
    var closed = false
    var isConnected = false
    var hadSessionSinceFailure = false
    var subscriptions: [(filter: String, qos: MQTTQoS)] = []
    var publishWaiters: [Int32: (token: Int, waiter: CheckedContinuation<Void, any Error>)] = [:]
    var nextToken = 0
    /// QoS 1 messages published while no session was up, handed to libmosquitto in order once one is.
    var heldWhileDisconnected: [HeldMessage] = []
    var subscribeWaiters: [Int32: CheckedContinuation<Void, any Error>] = [:]
    /// The filter of each subscription whose SUBACK is awaited, by message id.
    var subscribing: [Int32: String] = [:]
    var firstOutcomeWaiter: CheckedContinuation<Void, any Error>?
    var failFast = false
    var refusal: MQTTError?
    var lastErrorValue: MQTTError?
    var loopPasses = 0
    var connectStarted: ContinuousClock.Instant?

    private static let libraryReady: Bool = {
        mosquitto_lib_init()
        // libmosquitto 2.1 writes TLS records to the socket without MSG_NOSIGNAL: a broker that closes the session
        // first raises SIGPIPE, whose default ends the process (the agent, the CLI, a test run). A process that uses
        // this client gets EPIPE instead, as a typed connection error; a handler the process set itself is kept.
        var current = sigaction()
        if sigaction(SIGPIPE, nil, &current) == 0, current.__sigaction_handler.sa_handler == nil {
            signal(SIGPIPE, SIG_IGN)
        }
        return true
    }()

    /// Creates the client and applies every option; nothing touches the network until `start()` or `connect()`.
    public init(_ options: MQTTOptions) throws(MQTTError) {
        _ = Self.libraryReady
        self.options = options
        messages = MQTTInbox(capacity: 8192)
        (connectionEvents, eventSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(64))
        guard let handle = mosquitto_new(options.clientID, options.cleanSession, nil) else {
            throw MQTTError(kind: .invalidArgument, code: Int32(errno), operation: "create client",
                            text: String(cString: strerror(errno)))
        }
        self.handle = handle
        do {
            try configure(handle)
        } catch {
            mosquitto_destroy(handle)
            self.handle = nil
            throw error
        }
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        installCallbacks(handle)
    }

    deinit {
        if let handle { mosquitto_destroy(handle) }
    }

    /// Applies `options` to a client that is closed again at once, without touching the network: what creating the
    /// agent's client would refuse (a client id, topic or credential libmosquitto does not take, a TLS file it
    /// cannot read) is thrown here, so a configuration check refuses it before the agent runs.
    public static func check(_ options: MQTTOptions) throws(MQTTError) {
        let client = try MQTTClient(options)
        client.close()
    }

    private func configure(_ handle: OpaquePointer) throws(MQTTError) {
        try MQTTError.check(mosquitto_threaded_set(handle, true), "set threaded mode")
        let version = options.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try MQTTError.check(
            mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(version)), "set protocol version")
        if options.username != nil || options.password != nil {
            try MQTTError.check(mosquitto_username_pw_set(handle, options.username, options.password), "set credentials")
        }
        if let tls = options.tls {
            let caPath = (tls.caFile == nil && tls.caPath == nil) ? "/etc/ssl/certs" : tls.caPath
            try MQTTError.check(
                mosquitto_tls_set(handle, tls.caFile, caPath, tls.certificateFile, tls.keyFile, nil), "set up TLS")
            if !tls.verifyServer {
                try MQTTError.check(
                    mosquitto_tls_opts_set(handle, klimavagt_mosq_tls_verify_none(), nil, nil), "disable TLS verification")
                try MQTTError.check(mosquitto_tls_insecure_set(handle, true), "disable TLS host name check")
            }
        }
        if let will = options.will {
            let rc = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set(handle, will.topic, Int32(bytes.count), bytes.baseAddress, will.qos.rawValue,
                                   will.retain)
            }
            try MQTTError.check(rc, "set the Last Will")
        }
    }

    /// Whether the broker has accepted the session and it has not been lost since.
    public var connected: Bool {
        condition.withLock { isConnected }
    }

    /// Received messages dropped, oldest first, because the reader of `messages` fell more than 8192 behind.
    public var droppedMessages: Int {
        messages.droppedCount
    }

    /// How many times the network thread has gone round its loop (at least once per `options.idleWait` while it runs).
    public var networkLoopPasses: Int {
        condition.withLock { loopPasses }
    }

    /// How long the network thread has been in a blocking connect (name lookup, TCP and TLS handshakes), if it is in
    /// one now: a broker whose network drops packets holds it there until the kernel gives up, about two minutes.
    public var connectingFor: Duration? {
        condition.withLock { connectStarted.map { .now - $0 } }
    }

    /// The most recent failure to connect or loss of the session, if any.
    public var lastError: MQTTError? {
        condition.withLock { lastErrorValue }
    }

    /// Starts the network thread, which connects and keeps reconnecting until `close()`; returns at once.
    public func start() {
        condition.withLock {
            guard !threadRunning, !closing else { return }
            threadRunning = true
            let thread = Thread { [self] in
                // Linux takes a thread's name only from the thread itself.
                Thread.current.name = "mqtt-network"
                runNetworkLoop()
            }
            thread.start()
        }
    }

    /// Connects and waits for the broker's CONNACK; the first failure is thrown and the client stops trying.
    public func connect() async throws(MQTTError) {
        do {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
                condition.lock()
                if closing {
                    condition.unlock()
                    waiter.resume(throwing: MQTTError.closed("connect"))
                    return
                }
                if isConnected {
                    condition.unlock()
                    waiter.resume()
                    return
                }
                firstOutcomeWaiter = waiter
                failFast = true
                condition.unlock()
                start()
            }
        } catch {
            close()
            throw error as! MQTTError
        }
    }

    /// Subscribes to a topic filter (wildcards allowed) now and after every reconnect.
    ///
    /// While connected it waits for the broker's SUBACK; while disconnected it returns once the filter is recorded.
    public func subscribe(_ filter: String, qos: MQTTQoS = .atLeastOnce) async throws(MQTTError) {
        do {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
                condition.lock()
                defer { condition.unlock() }
                guard !closing, let handle else {
                    waiter.resume(throwing: MQTTError.closed("subscribe"))
                    return
                }
                subscriptions.removeAll { $0.filter == filter }
                subscriptions.append((filter, qos))
                guard isConnected else {
                    waiter.resume()
                    return
                }
                var mid: Int32 = 0
                if let error = MQTTError(
                    returnCode: mosquitto_subscribe(handle, &mid, filter, qos.rawValue), operation: "subscribe")
                {
                    waiter.resume(throwing: error)
                    return
                }
                subscribeWaiters[mid] = waiter
                subscribing[mid] = filter
            }
        } catch {
            throw error as! MQTTError
        }
    }

    /// Publishes a message; with QoS 1 it returns only when the broker's PUBACK has arrived.
    ///
    /// A QoS 1 message published while the session is down is held, in order, and handed over after reconnecting; a
    /// QoS 0 message then fails with `notConnected`.
    public func publish(_ topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false)
        async throws(MQTTError)
    {
        let token = condition.withLock {
            nextToken += 1
            return nextToken
        }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
                    condition.lock()
                    defer { condition.unlock() }
                    guard !closing, let handle else {
                        waiter.resume(throwing: MQTTError.closed("publish"))
                        return
                    }
                    if Task.isCancelled {
                        waiter.resume(throwing: MQTTError.cancelled("publish to \(topic)"))
                        return
                    }
                    let message = HeldMessage(topic: topic, payload: payload, qos: qos, retain: retain, token: token,
                                              waiter: waiter)
                    if qos == .atLeastOnce && (!isConnected || !heldWhileDisconnected.isEmpty) {
                        heldWhileDisconnected.append(message)
                        return
                    }
                    hand(message, to: handle)
                }
            } onCancel: {
                stopWaiting(token: token)
            }
        } catch {
            throw error as! MQTTError
        }
    }

    /// Releases the caller waiting on publish `token` with a `cancelled` error; the message itself is not recalled.
    private func stopWaiting(token: Int) {
        condition.lock()
        var released: CheckedContinuation<Void, any Error>?
        if let mid = publishWaiters.first(where: { $0.value.token == token })?.key {
            released = publishWaiters.removeValue(forKey: mid)?.waiter
        } else if let index = heldWhileDisconnected.firstIndex(where: { $0.token == token }) {
            released = heldWhileDisconnected.remove(at: index).waiter
        }
        condition.unlock()
        released?.resume(throwing: MQTTError.cancelled("wait for the broker"))
    }

    /// Passes a message to libmosquitto and registers its waiter; the caller holds `condition`.
    func hand(_ message: HeldMessage, to handle: OpaquePointer) {
        var mid: Int32 = 0
        let rc = message.payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, &mid, message.topic, Int32(bytes.count), bytes.baseAddress, message.qos.rawValue,
                              message.retain)
        }
        if rc == MOSQ_ERR_NO_CONN.rawValue, message.qos == .atLeastOnce {
            heldWhileDisconnected.append(message)
        } else if let error = MQTTError(returnCode: rc, operation: "publish to \(message.topic)") {
            message.waiter.resume(throwing: error)
        } else if message.qos == .atMostOnce {
            message.waiter.resume()
        } else {
            publishWaiters[mid] = (message.token, message.waiter)
        }
    }

    /// A publish waiting for a session, with the caller that waits for its PUBACK.
    struct HeldMessage {
        var topic: String
        var payload: [UInt8]
        var qos: MQTTQoS
        var retain: Bool
        var token: Int
        var waiter: CheckedContinuation<Void, any Error>
    }

    /// Ends the session with a clean DISCONNECT (so the Last Will is not sent), joins the network thread and frees
    /// the C handle. Waiting publishes and subscribes fail with a `closed` error. Safe to call more than once.
    public func close() {
        condition.lock()
        if closed {
            condition.unlock()
            return
        }
        closed = true
        closing = true
        let wasRunning = threadRunning
        if let handle { mosquitto_disconnect(handle) }
        condition.broadcast()
        condition.unlock()
        if wasRunning { threadFinished.wait() }
        condition.lock()
        let waiters = publishWaiters.values.map(\.waiter) + Array(subscribeWaiters.values)
            + heldWhileDisconnected.map(\.waiter)
        publishWaiters.removeAll()
        heldWhileDisconnected.removeAll()
        subscribeWaiters.removeAll()
        subscribing.removeAll()
        let first = firstOutcomeWaiter
        firstOutcomeWaiter = nil
        let handle = self.handle
        self.handle = nil
        isConnected = false
        condition.unlock()
        for waiter in waiters { waiter.resume(throwing: MQTTError.closed("wait for the broker")) }
        first?.resume(throwing: MQTTError.closed("connect"))
        if let handle { mosquitto_destroy(handle) }
        messages.finish()
        eventSink.finish()
    }
}
