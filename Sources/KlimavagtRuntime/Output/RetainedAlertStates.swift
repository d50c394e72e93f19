import Foundation
import KlimavagtCore
import KlimavagtMQTT
import KlimavagtSystem
import Logging

/// The broker's copy of each rule's alert state: the agent's own retained `PREFIX/alerts/<rule>/state` messages,
/// read once at start so that `seq` and a firing state survive the loss of every local state file.
///
/// A short-lived client of its own (the agent's client id with `-restore`, a clean session, no Last Will) subscribes
/// at QoS 0 to the rules' state topics and then to `PREFIX/status`. A broker sends a subscription's retained messages
/// after its SUBACK and before it handles the next packet, so once the retained status arrives every retained alert
/// state has arrived before it; the status is retained whenever the agent has ever been online (the Last Will sets
/// it too). Without one (the first start on this broker) the reader waits for `quiet` after the last message.
/// Everything is bounded by `timeout`: a broker that cannot be reached costs at most that, and the agent starts on its
/// local state.
enum RetainedAlertStates {
    struct Outcome {
        /// The lifecycle each rule's retained state describes, for the configured rules whose payload is valid.
        var lifecycles: [String: AlertLifecycle]
        /// Why nothing could be read, if so.
        var failure: String?
    }

    static func read(options: MQTTOptions, prefix: String, site: String, rules: [RuleSpec],
                     timeout: Duration = .seconds(5), quiet: Duration = .milliseconds(500)) async -> Outcome
    {
        var options = options
        options.clientID = String(options.clientID.prefix(56)) + "-restore"
        options.cleanSession = true
        options.will = nil
        let client: MQTTClient
        do {
            client = try MQTTClient(options)
        } catch {
            return Outcome(lifecycles: [:], failure: "\(error)")
        }
        let topics = ContractTopics(prefix: prefix)
        let byTopic = Dictionary(uniqueKeysWithValues: rules.map { (topics.alertState($0.id), $0) })
        let statusTopic = topics.status
        // Not a task group: a group waits for its children, and a connect stuck in a dropped network does not end
        // when cancelled. The reading goes on in its own task until `close()` below ends it.
        let outcome = await Self.result(within: timeout) { () -> Outcome in
            do {
                try await client.connect()
                try await client.subscribe(topics.everyAlertState, qos: .atMostOnce)
                try await client.subscribe(statusTopic, qos: .atMostOnce)
            } catch {
                return Outcome(lifecycles: [:], failure: "\(error)")
            }
            var found: [String: AlertLifecycle] = [:]
            let messages = client.messages
            reading: while true {
                // Each batch restarts the quiet wait; the retained status ends it at once.
                guard let batch = await first(within: quiet, { await messages.batch() }) ?? nil else { break }
                for message in batch {
                    if message.topic == statusTopic { break reading }
                    guard message.retain, let rule = byTopic[message.topic],
                          let lifecycle = AlertLifecycle.fromStateJSON(message.payload),
                          lifecycle.lastEvent?.rule == rule.id, lifecycle.lastEvent?.site == site,
                          lifecycle.lastEvent?.kind == rule.kind
                    else { continue }
                    found[rule.id] = lifecycle
                }
            }
            return Outcome(lifecycles: found, failure: nil)
        }
        // A connect stuck in a dropped network can hold `close()` until the kernel gives up: never wait for it here.
        Thread.detachNewThread { client.close() }
        return outcome ?? Outcome(lifecycles: [:], failure: "no answer within \(timeout)")
    }

    /// The value of `body`, or nil if it has not finished within `limit`; `body` runs on in its own task then.
    private static func result<T: Sendable>(within limit: Duration, _ body: @escaping @Sendable () async -> T) async
        -> T?
    {
        let answer = FirstAnswer<T>()
        return await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            answer.wait(continuation)
            Task { answer.give(await body()) }
            Task {
                try? await Task.sleep(for: limit)
                answer.give(nil)
            }
        }
    }

    /// Per rule, the newer of the local and the retained lifecycle (the higher seq); the rules the broker's copy
    /// decided, for the log.
    static func merge(local: [String: AlertLifecycle], retained: [String: AlertLifecycle])
        -> (lifecycles: [String: AlertLifecycle], fromBroker: [(rule: String, local: Int64, retained: Int64)])
    {
        var merged = local
        var fromBroker: [(rule: String, local: Int64, retained: Int64)] = []
        for (rule, copy) in retained.sorted(by: { $0.key < $1.key }) {
            let mine = local[rule]?.seq ?? 0
            guard copy.seq > mine else { continue }
            merged[rule] = copy
            fromBroker.append((rule, mine, copy.seq))
        }
        return (merged, fromBroker)
    }
}

/// Resumes its waiter with the first answer given; later answers are dropped.
private final class FirstAnswer<T: Sendable>: Sendable {
    /// The waiter, resumed at most once and then cleared.
    private let waiter = Locked<CheckedContinuation<T?, Never>?>(nil)

    func wait(_ continuation: CheckedContinuation<T?, Never>) {
        waiter.withLock { $0 = continuation }
    }

    func give(_ value: T?) {
        let resume: CheckedContinuation<T?, Never>? = waiter.withLock { waiter in
            defer { waiter = nil }
            return waiter
        }
        resume?.resume(returning: value)
    }
}
