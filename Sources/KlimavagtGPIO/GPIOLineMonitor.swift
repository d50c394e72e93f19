import CGPIOD
import Foundation

/// A line requested for edge events, delivered with kernel timestamps through `edges`.
///
/// Threading and lifetime: the monitor owns one thread that blocks in `poll(2)` on the line's event descriptor and
/// on a stop pipe, so it never polls on a timer. It owns a chip handle of its own. `close()` wakes that thread, joins
/// it, releases the line, closes the chip handle and finishes `edges`; it is safe to call twice and is called on deinit.
public final class GPIOLineMonitor: @unchecked Sendable {
    public let chipName: String
    public let lineName: String
    /// Edges in the order the kernel reported them; finishes on `close()` or a read error.
    public let edges: AsyncStream<GPIOEdge>

    private let sink: AsyncStream<GPIOEdge>.Continuation
    private let lock = NSLock()
    private var line: OpaquePointer?
    private let chip: OpaquePointer
    private var stopPipe: (read: Int32, write: Int32)
    private var started = false
    private let finished = DispatchSemaphore(value: 0)

    /// Requests the line; on success the monitor owns `chip` and closes it, on failure the caller still does.
    init(chip: OpaquePointer, line: OpaquePointer, chipName: String, lineName: String, bias: GPIOBias?,
         activeLow: Bool, consumer: String) throws(GPIOError)
    {
        self.chip = chip
        self.chipName = chipName
        self.lineName = lineName
        (edges, sink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(65_536))
        var flags: Int32 = activeLow ? klimavagt_gpiod_flag_active_low() : 0
        switch bias {
        case .pullUp: flags |= klimavagt_gpiod_flag_bias_pull_up()
        case .pullDown: flags |= klimavagt_gpiod_flag_bias_pull_down()
        case .disabled: flags |= klimavagt_gpiod_flag_bias_disable()
        case nil: break
        }
        var config = gpiod_line_request_config(
            consumer: nil, request_type: Int32(GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES), flags: flags)
        let rc = consumer.withCString { name in
            config.consumer = name
            return gpiod_line_request(line, &config, 0)
        }
        if rc != 0 {
            let code = errno
            _ = gpiod_line_update(line)
            throw GPIOError.fromErrno(code, operation: "request line", chip: chipName, line: lineName,
                                      consumer: gpiod_line_consumer(line).map { String(cString: $0) })
        }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            let code = errno
            gpiod_line_release(line)
            throw GPIOError.fromErrno(code, operation: "create stop pipe", chip: chipName)
        }
        self.line = line
        stopPipe = (fds[0], fds[1])
        start()
    }

    deinit {
        close()
    }

    /// The line's current logical value (after active-low), 0 or 1.
    public func value() throws(GPIOError) -> Int {
        lock.lock()
        defer { lock.unlock() }
        guard let line else { throw GPIOError.closed }
        let value = gpiod_line_get_value(line)
        guard value >= 0 else { throw GPIOError.fromErrno(errno, operation: "read value", chip: chipName, line: lineName) }
        return Int(value)
    }

    /// Stops the event thread, releases the line and finishes `edges`; safe to call more than once.
    public func close() {
        lock.lock()
        guard let line else {
            lock.unlock()
            return
        }
        self.line = nil
        let wasStarted = started
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        lock.unlock()
        if wasStarted { finished.wait() }
        gpiod_line_release(line)
        gpiod_chip_close(chip)
        Glibc.close(stopPipe.read)
        Glibc.close(stopPipe.write)
        sink.finish()
    }

    private func start() {
        guard let line else { return }
        let eventFD = gpiod_line_event_get_fd(line)
        let stopFD = stopPipe.read
        started = true
        // The line handle stays valid until close() has joined this thread; only then is it released.
        nonisolated(unsafe) let handle = line
        // Linux keeps 15 bytes of a thread's name, and takes it only from the thread itself.
        let name = String(decoding: Array("gpio-\(lineName)".utf8.prefix(15)), as: UTF8.self)
        let thread = Thread { [sink, finished] in
            Thread.current.name = name
            Self.waitForEdges(line: handle, eventFD: eventFD, stopFD: stopFD, sink: sink)
            finished.signal()
        }
        thread.start()
    }

    /// Blocks in poll(2) until edges arrive or the stop pipe is written; runs on the monitor's own thread.
    private static func waitForEdges(
        line: OpaquePointer, eventFD: Int32, stopFD: Int32, sink: AsyncStream<GPIOEdge>.Continuation
    ) {
        var events = [gpiod_line_event](repeating: gpiod_line_event(), count: 16)
        while true {
            var fds = [pollfd(fd: eventFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[1].revents != 0 { break }
            guard fds[0].revents & Int16(POLLIN) != 0 else {
                if fds[0].revents != 0 { break }
                continue
            }
            let count = events.withUnsafeMutableBufferPointer { buffer in
                gpiod_line_event_read_multiple(line, buffer.baseAddress, UInt32(buffer.count))
            }
            guard count > 0 else { break }
            for event in events.prefix(Int(count)) {
                let kind: GPIOEdge.Kind = event.event_type == Int32(GPIOD_LINE_EVENT_RISING_EDGE)
                    ? .rising : .falling
                let nanos = Int64(event.ts.tv_sec) * 1_000_000_000 + Int64(event.ts.tv_nsec)
                sink.yield(GPIOEdge(kind: kind, timestampNanoseconds: nanos))
            }
        }
    }
}
