/// The fixed shape of a series: how much raw data it keeps, its rollups, rolling windows and late tolerance.
public struct SeriesConfiguration: Sendable, Equatable {
    public var id: String
    /// Memory for compressed raw samples; the oldest blocks go first when it is full.
    public var rawBytes: Int
    /// If set, sealed blocks whose newest sample is older than this before the series' newest are dropped too, so the
    /// raw data covers a duration rather than only a number of bytes.
    public var rawDuration: Duration?
    /// Samples per sealed block.
    public var blockSize: Int
    /// How late a sample may arrive and still be inserted in order (bounded by the open blocks' span).
    public var lateTolerance: Duration
    /// Consolidation steps and how many of each are kept (default 1 minute for a day, 1 hour for 30 days).
    public var rollups: [Rollup]
    /// Rolling windows kept up to date as samples arrive.
    public var windows: [Window]
    /// Whether values are whole counts (rain tips), summed exactly as integers.
    public var isCount: Bool
    /// Event times are kept to this resolution (rounded down on append); 1 ms by default, 1 s suits a sensor that
    /// reports every few minutes.
    public var timeResolution: Duration

    public struct Rollup: Sendable, Equatable {
        public var step: Duration
        public var slots: Int
        public init(step: Duration, slots: Int) {
            self.step = step
            self.slots = slots
        }
    }

    public struct Window: Sendable, Equatable {
        public var length: Duration
        /// The most samples the window holds.
        public var capacity: Int
        public init(length: Duration, capacity: Int) {
            self.length = length
            self.capacity = capacity
        }
    }

    public init(id: String, rawBytes: Int = 64 * 1024, blockSize: Int = 256, lateTolerance: Duration = .seconds(600),
                rollups: [Rollup] = [.init(step: .seconds(60), slots: 1440), .init(step: .seconds(3600), slots: 30 * 24)],
                windows: [Window] = [], isCount: Bool = false, timeResolution: Duration = .milliseconds(1))
    {
        self.timeResolution = timeResolution
        self.rawDuration = nil
        self.id = id
        self.rawBytes = rawBytes
        self.blockSize = blockSize
        self.lateTolerance = lateTolerance
        self.rollups = rollups
        self.windows = windows
        self.isCount = isCount
    }
}
