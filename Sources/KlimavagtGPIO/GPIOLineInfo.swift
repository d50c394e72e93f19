/// What the kernel reports of one line, as `gpioinfo` shows it.
public struct GPIOLineInfo: Sendable, Equatable {
    public enum Direction: String, Sendable { case input, output }

    public var offset: Int
    public var name: String?
    public var consumer: String?
    public var direction: Direction
    public var activeLow: Bool
    public var bias: GPIOBias?
    public var used: Bool
}

/// What the kernel reports of one chip.
public struct GPIOChipInfo: Sendable, Equatable {
    public var name: String
    public var label: String
    public var path: String
    public var lines: [GPIOLineInfo]
}

/// The pull resistor a line is requested with.
public enum GPIOBias: String, Sendable, Equatable, CaseIterable {
    case pullUp = "pull_up"
    case pullDown = "pull_down"
    case disabled
}

/// One edge on a requested line, stamped by the kernel when the interrupt fired.
public struct GPIOEdge: Sendable, Equatable {
    public enum Kind: String, Sendable { case rising, falling }
    public var kind: Kind
    /// The kernel's timestamp (CLOCK_MONOTONIC on Linux 5.7 and later) in nanoseconds.
    public var timestampNanoseconds: Int64
}
