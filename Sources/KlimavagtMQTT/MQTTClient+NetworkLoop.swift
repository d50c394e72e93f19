import CMosquitto
import Foundation

extension MQTTClient {
    /// Runs on the network thread until `close()`: connect, loop, and after a failure wait and reconnect.
    func runNetworkLoop() {
        var attempted = false
        var socketOpen = false
        var delay = options.reconnectInitial
        while true {
            condition.lock()
            let stop = closing
            let handle = self.handle
            condition.unlock()
            guard !stop, let handle else { break }
            if !socketOpen {
                let rc: Int32
                condition.withLock { connectStarted = .now }
                if attempted {
                    rc = mosquitto_reconnect(handle)
                } else {
                    attempted = true
                    rc = mosquitto_connect(
                        handle, options.host, Int32(options.port), Int32(options.keepalive.components.seconds))
                }
                condition.withLock { connectStarted = nil }
                if let error = MQTTError(returnCode: rc, operation: "connect to \(options.host):\(options.port)") {
                    if noteFailure(error).stop { break }
                    waitBeforeReconnecting(&delay)
                    continue
                }
                socketOpen = true
            }
            // libmosquitto cuts the wait short for the keepalive's PINGREQ, and a publish from another thread wakes it.
            var rc = mosquitto_loop(handle, idleWaitMilliseconds, 1)
            if rc == MOSQ_ERR_SUCCESS.rawValue { rc = readWaitingMessages(handle) }
            messages.deliverPending()
            condition.withLock { loopPasses += 1 }
            if let error = MQTTError(returnCode: rc, operation: "keep the session with \(options.host):\(options.port)") {
                socketOpen = false
                let outcome = noteFailure(error)
                if outcome.stop { break }
                if outcome.hadSession { delay = options.reconnectInitial }
                waitBeforeReconnecting(&delay)
            }
        }
        threadFinished.signal()
    }

    /// Reads on while messages are waiting, up to `batchLimit` in all, before they go to the handler.
    ///
    /// One `mosquitto_loop` pass reads one packet, so under a flood every message would cost a wait in pselect(2)
    /// and a handler call of its own (the pipeline's lock, clock and timer). A read that finds nothing returns at
    /// once (EAGAIN on the non-blocking socket); a packet that is no message (an acknowledgement, a PINGRESP) ends
    /// the batch too, and the next pass's wait finds whatever follows it. Only with a handler set, whose batches
    /// this serves; returns libmosquitto's code, as `mosquitto_loop` would.
    private func readWaitingMessages(_ handle: OpaquePointer) -> Int32 {
        guard messages.deliversOnNetworkThread else { return MOSQ_ERR_SUCCESS.rawValue }
        var waiting = messages.waitingCount
        while waiting < Self.batchLimit {
            let rc = mosquitto_loop_read(handle, 1)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else { return rc }
            let now = messages.waitingCount
            guard now > waiting else { break }
            waiting = now
        }
        return MOSQ_ERR_SUCCESS.rawValue
    }

    /// The most messages one pass reads before handing them on (a batch stays a few tens of kB).
    static let batchLimit = 64

    /// A duration in seconds (this module does without KlimavagtCore, which has the same as `Duration.inSeconds`).
    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private var idleWaitMilliseconds: Int32 {
        Int32(clamping: max(1, min(Int64(Self.seconds(options.idleWait) * 1000), 3_600_000)))
    }

    /// Records a failed attempt or a lost session; says whether the loop must stop (a failing `connect()`).
    private func noteFailure(_ error: MQTTError) -> (stop: Bool, hadSession: Bool) {
        condition.lock()
        let reported = refusal ?? error
        refusal = nil
        lastErrorValue = reported
        let hadSession = hadSessionSinceFailure
        hadSessionSinceFailure = false
        isConnected = false
        var stop = closing
        var waiter: CheckedContinuation<Void, any Error>?
        if failFast, let first = firstOutcomeWaiter {
            firstOutcomeWaiter = nil
            failFast = false
            waiter = first
            stop = true
        }
        condition.unlock()
        waiter?.resume(throwing: reported)
        // A lost session was announced by the disconnect callback; a failed attempt is announced here.
        if !hadSession, !stop { eventSink.yield(.connectFailed(reported)) }
        return (stop, hadSession)
    }

    /// Waits `delay` (cut short by `close()`) and doubles it, up to the configured maximum.
    private func waitBeforeReconnecting(_ delay: inout Duration) {
        let deadline = Date().addingTimeInterval(Self.seconds(delay))
        condition.lock()
        while !closing, Date() < deadline {
            // Waking every `idleWait` keeps `networkLoopPasses` moving, which the watchdog reads as the thread being alive.
            _ = condition.wait(until: min(deadline, Date().addingTimeInterval(Self.seconds(options.idleWait))))
            loopPasses += 1
        }
        condition.unlock()
        delay = min(delay * 2, options.reconnectMaximum)
    }

    /// Points libmosquitto's callbacks at this client; they reach it through the handle's user data.
    func installCallbacks(_ handle: OpaquePointer) {
        mosquitto_connect_v5_callback_set(handle) { _, context, reason, flags, _ in
            guard let context else { return }
            Unmanaged<MQTTClient>.fromOpaque(context).takeUnretainedValue().didConnect(reason: reason, flags: flags)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, context, rc, _ in
            guard let context else { return }
            Unmanaged<MQTTClient>.fromOpaque(context).takeUnretainedValue().didDisconnect(rc: rc)
        }
        mosquitto_publish_v5_callback_set(handle) { _, context, mid, reason, _ in
            guard let context else { return }
            Unmanaged<MQTTClient>.fromOpaque(context).takeUnretainedValue().didAcknowledgePublish(mid: mid, reason: reason)
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, context, mid, count, granted, _ in
            guard let context else { return }
            let firstGrant = (count > 0 && granted != nil) ? granted![0] : 0
            Unmanaged<MQTTClient>.fromOpaque(context).takeUnretainedValue().didAcknowledgeSubscribe(
                mid: mid, firstGrant: firstGrant)
        }
        mosquitto_message_v5_callback_set(handle) { _, context, message, _ in
            guard let context, let message else { return }
            let topic = String(cString: message.pointee.topic)
            var payload: [UInt8] = []
            if let bytes = message.pointee.payload, message.pointee.payloadlen > 0 {
                payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(message.pointee.payloadlen)))
            }
            let copy = MQTTMessage(topic: topic, payload: payload, qos: message.pointee.qos,
                                   retain: message.pointee.retain)
            Unmanaged<MQTTClient>.fromOpaque(context).takeUnretainedValue().messages.append(copy)
        }
    }

    private func didConnect(reason: Int32, flags: Int32) {
        condition.lock()
        guard reason == 0 else {
            refusal = MQTTError(connackReason: reason, protocolVersion: options.protocolVersion)
            condition.unlock()
            return
        }
        isConnected = true
        hadSessionSinceFailure = true
        lastErrorValue = nil
        failFast = false
        let sessionPresent = flags & 1 == 1
        if !sessionPresent, let handle {
            for subscription in subscriptions {
                // A failure here shows as a lost session on the next loop, which reconnects and tries again.
                var mid: Int32 = 0
                if mosquitto_subscribe(handle, &mid, subscription.filter, subscription.qos.rawValue) == MOSQ_ERR_SUCCESS.rawValue {
                    subscribing[mid] = subscription.filter
                }
            }
        }
        if let handle {
            let held = heldWhileDisconnected
            heldWhileDisconnected.removeAll()
            for message in held { hand(message, to: handle) }
        }
        let first = firstOutcomeWaiter
        firstOutcomeWaiter = nil
        condition.unlock()
        first?.resume()
        eventSink.yield(.connected(sessionPresent: sessionPresent))
    }

    private func didDisconnect(rc: Int32) {
        condition.lock()
        let wasConnected = isConnected
        isConnected = false
        condition.unlock()
        if wasConnected {
            eventSink.yield(.disconnected(MQTTError(returnCode: rc, operation: "keep the session")))
        }
    }

    private func didAcknowledgePublish(mid: Int32, reason: Int32) {
        condition.lock()
        let waiter = publishWaiters.removeValue(forKey: mid)?.waiter
        condition.unlock()
        if reason >= 0x80 {
            waiter?.resume(throwing: MQTTError(
                kind: reason == 0x87 ? .notAuthorized : .other, code: reason, operation: "publish",
                text: String(cString: mosquitto_reason_string(reason))))
        } else {
            waiter?.resume()
        }
    }

    private func didAcknowledgeSubscribe(mid: Int32, firstGrant: Int32) {
        condition.lock()
        let waiter = subscribeWaiters.removeValue(forKey: mid)
        let filter = subscribing.removeValue(forKey: mid)
        condition.unlock()
        if let filter { eventSink.yield(.subscribed(filter: filter, granted: firstGrant < 0x80)) }
        if firstGrant >= 0x80 {
            waiter?.resume(throwing: MQTTError(
                kind: .notAuthorized, code: firstGrant, operation: "subscribe", text: "the broker refused the subscription"))
        } else {
            waiter?.resume()
        }
    }
}
