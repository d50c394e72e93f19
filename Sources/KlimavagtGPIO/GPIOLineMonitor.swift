import CGPIOD
import Foundation
import KlimavagtSystem

/// A line requested for edge events, delivered with kernel timestamps through `edges`.
///
/// Threading and lifetime: the monitor owns one thread that blocks in `poll(2)` on the line's event descriptor and
/// on a stop pipe, so it never polls on a timer. It owns a chip handle of its own. `close()` wakes that thread, joins
/// it, releases the line, closes the chip handle and finishes `edges`; it is safe to call twice and is called on deinit.
public final class GPIOLineMonitor: @unchecked Sendable {   // unchecked: libgpiod's line request and chip, C pointers, guarded by `lock`
    public let chipName: String
    public let lineName: String
    /// Edges in the order the kernel reported them; finishes on `close()` or a read error.
    public let edges: AsyncStream<GPIOEdge>

    private let sink: AsyncStream<GPIOEdge>.Continuation
    private let lock = NSLock()
    /// The line request (libgpiod's, through the shim); nil once closed.
    private var line: UnsafeMutableRawPointer?
    private let chip: OpaquePointer
    private let stopPipe: StopPipe
    private var started = false
    private let finished = DispatchSemaphore(value: 0)

    /// Requests the line; on success the monitor owns `chip` and closes it, on failure the caller still does.
    init(chip: OpaquePointer, offset: Int, chipName: String, lineName: String, bias: GPIOBias?,
         activeLow: Bool, consumer: String) throws(GPIOError)
    {
        self.chip = chip
        self.chipName = chipName
        self.lineName = lineName
        (edges, sink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(65_536))
        let biasCode: Int32
        switch bias {
        case .disabled: biasCode = 1
        case .pullUp: biasCode = 2
        case .pullDown: biasCode = 3
        case nil: biasCode = 0
        }
        errno = 0
        let requested = klimavagt_gpio_request_edges(chip, UInt32(offset), consumer, biasCode, activeLow)
        guard let requested else {
            let code = errno
            // The holder of a busy line, as the kernel names it.
            let holder = GPIOChip.lineInfo(chip, offset: offset)?.consumer
            throw GPIOError.fromErrno(code, operation: "request line", chip: chipName, line: lineName,
                                      consumer: holder)
        }
        do {
            stopPipe = try StopPipe()
        } catch {
            klimavagt_gpio_request_release(requested)
            throw GPIOError.fromErrno(error.code, operation: "create stop pipe", chip: chipName)
        }
        self.line = requested
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
        let value = klimavagt_gpio_request_value(line)
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
        stopPipe.signal()
        lock.unlock()
        if wasStarted { finished.wait() }
        klimavagt_gpio_request_release(line)
        klimavagt_gpio_chip_close(chip)
        stopPipe.close()
        sink.finish()
    }

    private func start() {
        guard let line else { return }
        let eventFD = klimavagt_gpio_request_fd(line)
        let stopFD = stopPipe.readEnd
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
        line: UnsafeMutableRawPointer, eventFD: Int32, stopFD: Int32, sink: AsyncStream<GPIOEdge>.Continuation
    ) {
        var events = [klimavagt_gpio_edge](repeating: klimavagt_gpio_edge(), count: 16)
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
                klimavagt_gpio_request_read_edges(line, buffer.baseAddress, UInt32(buffer.count))
            }
            guard count > 0 else { break }
            for event in events.prefix(Int(count)) {
                sink.yield(GPIOEdge(kind: event.rising ? .rising : .falling, timestampNanoseconds: event.timestamp_ns))
            }
        }
    }
}
